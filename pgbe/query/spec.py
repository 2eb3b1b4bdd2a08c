"""What a resource lets callers filter, sort and include, checked against its model and Read schema."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel as Schema
from sqlalchemy import ColumnElement, String, Text, select
from sqlalchemy.orm import InstrumentedAttribute, Mapper, RelationshipProperty

from pgbe.query.computed import Computed, computed_fields
from pgbe.query.operators import OPERATORS, Operator
from pgbe.query.values import ValueType, value_type

RESERVED = frozenset({"skip", "limit", "sort", "include", "count", "cursor"})


def related_schema(annotation: Any) -> type[Schema] | None:
    """Return the pydantic model inside `X`, `X | None` or `list[X]`, or None."""
    if isinstance(annotation, type) and issubclass(annotation, Schema):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = related_schema(arg)
            if found is not None:
                return found
    return None


@dataclass(frozen=True, slots=True)
class FilterField:
    """One filterable field: `price`, or `category.name` through a relationship."""

    name: str
    attribute: Any  # the model's attribute, or the expression of a computed field
    relationship: InstrumentedAttribute[Any] | None
    operators: frozenset[str]
    value_type: ValueType

    @property
    def sa_type(self) -> Any:
        """The SQL type of the filtered column or expression."""
        return self.attribute.type

    @property
    def uselist(self) -> bool:
        """Tell whether the relationship is a collection (EXISTS over any member)."""
        return self.relationship is not None and bool(self.relationship.property.uselist)


@dataclass(frozen=True, slots=True)
class Parameter:
    """A filter query parameter: which field, with which operator."""

    field: FilterField
    operator: Operator


class QuerySpec:
    """The allow-lists of one resource, refused at declaration when they name an unreadable field.

    `parameters` maps every filter query parameter (`price__gte`, or its alias) to its field and
    operator; `reserved` maps the names of `skip`, `limit`, `sort`, `include`, `count` and `cursor`
    (or their aliases) to them. `aliases` renames parameters: `{"offset": "skip", "tag": "tags.name"}`;
    the aliased name is then no longer accepted.
    """

    def __init__(
        self,
        model: type[Any],
        read: type[Schema],
        *,
        filters: Mapping[str, Iterable[str]] | None = None,
        sort: Iterable[str] = (),
        includes: Iterable[str] = (),
        aliases: Mapping[str, str] | None = None,
        computed: Mapping[str, Computed] | None = None,
    ) -> None:
        self.model = model
        self.read = read
        self.mapper: Mapper[Any] = model.__mapper__
        self.primary_key = self.mapper.primary_key[0]
        self.computed = computed_fields(read, computed)
        self.filters: dict[str, FilterField] = {
            name: self._filter_field(name, frozenset(ops)) for name, ops in (filters or {}).items()
        }
        self.sort: dict[str, ColumnElement[Any]] = {name: self._sort_key(name) for name in sort}
        # the name of each sort key among a page's columns: its own for a column, else sort__<name>
        self.sort_labels = {
            name: name if name in self.mapper.column_attrs else "sort__" + name.replace(".", "__")
            for name in self.sort
        }
        self.includes: dict[str, RelationshipProperty[Any]] = {name: self._include(name) for name in includes}
        self.reserved: dict[str, str] = {name: name for name in RESERVED}
        self.parameters: dict[str, Parameter] = {
            OPERATORS[op].key(name): Parameter(field, OPERATORS[op])
            for name, field in self.filters.items()
            for op in sorted(field.operators)
        }
        for alias, target in (aliases or {}).items():
            self._alias(alias, target)
        taken = sorted(set(self.reserved) & set(self.parameters))
        if taken:
            raise ValueError(
                f"filter parameter {taken[0]!r} is also a list parameter; rename it with aliases="
            )

    def _alias(self, alias: str, target: str) -> None:
        if alias in self.reserved or alias in self.parameters:
            raise ValueError(f"query alias {alias!r} is already a parameter")
        if target in self.reserved:
            del self.reserved[target]
            self.reserved[alias] = target
        elif target in self.parameters:
            self.parameters[alias] = self.parameters.pop(target)
        else:
            known = ", ".join([*self.reserved, *self.parameters])
            raise ValueError(f"query alias {alias!r}: {target!r} is not a parameter ({known})")

    def public_name(self, reserved: str) -> str:
        """The query parameter a client uses for `skip`, `limit`, `sort` or `include`."""
        return next(alias for alias, name in self.reserved.items() if name == reserved)

    def _column(self, name: str) -> InstrumentedAttribute[Any]:
        return self._readable_column(self.model, self.read, name)

    @staticmethod
    def _readable_column(model: type[Any], read: type[Schema], name: str) -> InstrumentedAttribute[Any]:
        if name not in read.model_fields:
            raise ValueError(f"{model.__name__}.{name} is not in {read.__name__}; it cannot be queried")
        if name not in model.__mapper__.column_attrs:
            raise ValueError(f"{model.__name__}.{name} is not a column")
        attribute: InstrumentedAttribute[Any] = getattr(model, name)
        return attribute

    def _sort_key(self, name: str) -> ColumnElement[Any]:
        """A column, a computed field, or for `rel.field` the field of the one related row."""
        if name in self.computed:
            return self.computed[name].expression(self.mapper, self.mapper.local_table.c)
        if "." not in name:
            column: ColumnElement[Any] = self._column(name).expression
            return column
        rel_name, _, column_name = name.partition(".")
        rel = self._include(rel_name)
        if rel.uselist or "." in column_name:
            raise ValueError(f"sort {name!r}: only a field of a to-one relationship can be sorted on")
        target_read = related_schema(self.read.model_fields[rel_name].annotation)
        assert target_read is not None
        field = self._readable_column(rel.mapper.class_, target_read, column_name).property.columns[0]
        target = rel.mapper.local_table.alias()
        joined = [target.c[remote.name] == local for local, remote in rel.local_remote_pairs]
        return select(target.c[field.name]).where(*joined).scalar_subquery()

    def _include(self, name: str) -> RelationshipProperty[Any]:
        if name not in self.mapper.relationships:
            raise ValueError(f"{self.model.__name__}.{name} is not a relationship")
        if name not in self.read.model_fields:
            raise ValueError(f"{self.model.__name__}.{name} is not in {self.read.__name__}")
        if related_schema(self.read.model_fields[name].annotation) is None:
            raise ValueError(f"{self.read.__name__}.{name} is not a schema or a list of schemas")
        rel: RelationshipProperty[Any] = self.mapper.relationships[name]
        return rel

    def _filterable(self, rel_name: str, column_name: str) -> InstrumentedAttribute[Any]:
        """The attribute of `column_name` of the related rows, if this resource shows it.

        Through a relationship of the Read schema, its own schema decides; through one the Read schema
        does not embed (`favorited_by.username`), a `Pluck` of that column, or any schema of the same
        model this resource's JSON shows (`author: ProfileRead` shows usernames): a filter never
        reveals a hidden column.
        """
        if rel_name in self.read.model_fields and rel_name in self.mapper.relationships:
            rel = self._include(rel_name)
            target_read = related_schema(self.read.model_fields[rel_name].annotation)
            assert target_read is not None
            return self._readable_column(rel.mapper.class_, target_read, column_name)
        if rel_name not in self.mapper.relationships:
            raise ValueError(f"{self.model.__name__}.{rel_name} is not a relationship")
        rel = self.mapper.relationships[rel_name]
        attribute: InstrumentedAttribute[Any] = getattr(rel.mapper.class_, column_name, None)  # type: ignore[assignment]
        for marker in self.computed.values():
            if (
                getattr(marker, "relationship", None) == rel_name
                and getattr(marker, "column", None) == column_name
            ):
                return attribute
        for schema in _shown_schemas(self.read, self.mapper, rel.mapper):
            if column_name in schema.model_fields:
                return self._readable_column(rel.mapper.class_, schema, column_name)
        raise ValueError(
            f"filter {rel_name}.{column_name}: {rel.mapper.class_.__name__}.{column_name} is in no schema"
            f" that {self.read.__name__} shows; it cannot be queried"
        )

    def _filter_field(self, name: str, operators: frozenset[str]) -> FilterField:
        unknown = operators - set(OPERATORS)
        if unknown or not operators:
            raise ValueError(f"filter {name!r}: unknown operators {sorted(unknown)}")
        relationship = None
        if name in self.computed:
            expression = self.computed[name].expression(self.mapper, self.mapper.local_table.c)
            return FilterField(name, expression, None, operators, value_type(expression.type))
        if "." in name:
            rel_name, _, column_name = name.partition(".")
            if "." in column_name:
                raise ValueError(f"filter {name!r}: only one relationship level is supported")
            attribute = self._filterable(rel_name, column_name)
            relationship = getattr(self.model, rel_name)
        else:
            attribute = self._column(name)
        sa_type = attribute.type
        if any(OPERATORS[op].text_only for op in operators) and not isinstance(sa_type, String | Text):
            raise ValueError(f"filter {name!r}: text operators on a non-text column")
        return FilterField(name, attribute, relationship, operators, value_type(sa_type))


def _shown_schemas(read: type[Schema], mapper: Mapper[Any], target: Mapper[Any]) -> list[type[Schema]]:
    """The schemas of `target`'s rows that `read` (of `mapper`) embeds, at any depth."""
    found: list[type[Schema]] = []
    seen: set[type[Schema]] = set()
    todo = [(read, mapper)]
    while todo:
        schema, at = todo.pop()
        if schema in seen:
            continue
        seen.add(schema)
        if at is target:
            found.append(schema)
        for name, field in schema.model_fields.items():
            nested = related_schema(field.annotation)
            if nested is not None and name in at.relationships:
                todo.append((nested, at.relationships[name].mapper))
    return found
