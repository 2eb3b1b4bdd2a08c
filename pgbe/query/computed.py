"""Computed fields: values a Read schema shows that are no column, computed inside the one statement.

Declared in the Read schema with `Annotated` (or beside it, `Resource(computed={...})`):

    class ArticleRead(ReadSchema):
        tag_list: Annotated[list[str], Pluck("tags", "name")]      # a to-many relationship's names
        favorites_count: Annotated[int, Count("favorited_by")]     # how many related rows
        favorited: Annotated[bool, CallerIn("favorited_by")]       # is the caller one of them
        full_name: Annotated[str, Expr(lambda c: func.concat(c.first_name, " ", c.last_name))]

Each is a SQL expression over the row's columns, correlated to it, so a page of 100 rows is still one
statement. `CallerIn(path)` follows relationships from the row (`"author.followers"`) and says whether
the caller (the `caller` bind parameter, NULL when anonymous) is among the rows reached; the same
condition serves row permissions and views.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel as Schema
from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Mapper, RelationshipDirection, RelationshipProperty

Columns = Any  # a row's columns by name: a table's `.c`, a CTE's `.c`, or a dict of a few known keys
_EMPTY_ARRAY: ColumnElement[Any] = literal_column("'[]'::json")


def caller() -> Any:
    """The `caller` bind parameter: the signed-in user's id, NULL for anonymous requests."""
    return bindparam("caller", type_=Integer)


def _relationship(mapper: Mapper[Any], name: str) -> RelationshipProperty[Any]:
    if name not in mapper.relationships:
        raise ValueError(f"{mapper.class_.__name__}.{name} is not a relationship")
    rel: RelationshipProperty[Any] = mapper.relationships[name]
    return rel


def _single(pairs: Any, what: str) -> tuple[Any, Any]:
    pairs = list(pairs or ())
    if len(pairs) != 1:
        raise ValueError(f"{what}: only single-column keys are supported")
    return pairs[0][0], pairs[0][1]


class Computed:
    """A field computed by a SQL expression over the row's columns."""

    def check(self, mapper: Mapper[Any]) -> None:
        """Refuse, at declaration, a field that names what the model does not have."""

    def expression(self, mapper: Mapper[Any], columns: Columns) -> ColumnElement[Any]:
        """The SQL expression of the field for the row whose columns are `columns`."""
        raise NotImplementedError

    def json(self, mapper: Mapper[Any], columns: Columns) -> ColumnElement[Any]:
        """The expression as PostgreSQL should put it in the row's JSON."""
        return self.expression(mapper, columns)


@dataclass(frozen=True)
class Count(Computed):
    """The number of rows a to-many relationship holds (`favoritesCount`)."""

    relationship: str

    def check(self, mapper: Mapper[Any]) -> None:
        if not _relationship(mapper, self.relationship).uselist:
            raise ValueError(f"Count({self.relationship!r}): not a to-many relationship")

    def expression(self, mapper: Mapper[Any], columns: Columns) -> ColumnElement[Any]:
        rel = _relationship(mapper, self.relationship)
        if rel.secondary is not None:
            parent, link_parent = _single(rel.synchronize_pairs, self.relationship)
            link = rel.secondary.alias()
            where = link.c[link_parent.name] == columns[parent.name]
            return (
                select(func.count()).select_from(link).where(where).correlate_except(link).scalar_subquery()
            )
        target = rel.mapper.local_table.alias()
        local, remote = _single(rel.local_remote_pairs, self.relationship)
        where = target.c[remote.name] == columns[local.name]
        return (
            select(func.count()).select_from(target).where(where).correlate_except(target).scalar_subquery()
        )


@dataclass(frozen=True)
class CallerIn(Computed):
    """Whether the caller is among the rows `path` reaches from the row: `favorited`, `following`.

    `CallerIn("author")` is "the author is the caller"; `CallerIn("author.followers")` is "the caller
    follows the author". The last relationship must lead to the users the caller's id names.
    """

    path: str

    def check(self, mapper: Mapper[Any]) -> None:
        hops = self.path.split(".")
        for i, name in enumerate(hops):
            if name in mapper.columns and i == len(hops) - 1:
                return
            mapper = _relationship(mapper, name).mapper

    def expression(self, mapper: Mapper[Any], columns: Columns) -> ColumnElement[bool]:
        return reaches_caller(mapper, columns, self.path.split("."))

    def json(self, mapper: Mapper[Any], columns: Columns) -> ColumnElement[Any]:
        # `author_id = NULL` is NULL for an anonymous caller: the field says false
        return func.coalesce(self.expression(mapper, columns), false())


@dataclass(frozen=True)
class Expr(Computed):
    """Any SQL expression of the row's columns: `Expr(lambda c: c.first_name + " " + c.last_name)`."""

    build: Callable[[Any], ColumnElement[Any]]

    def expression(self, mapper: Mapper[Any], columns: Columns) -> ColumnElement[Any]:
        del mapper
        return self.build(_Attributes(columns))


class _Attributes:
    """Columns by attribute access, for `Expr` lambdas (`c.price`)."""

    def __init__(self, columns: Columns) -> None:
        self._columns = columns

    def __getattr__(self, name: str) -> Any:
        return self._columns[name]


@dataclass(frozen=True)
class Pluck(Computed):
    """A to-many relationship as a list of one column of its rows: `"tagList": ["dragons", "training"]`.

    In a body schema the same field sets the relationship by that column (a unique one), and
    `create_missing=True` inserts the rows that do not exist yet. The list is in the column's order.
    """

    relationship: str
    column: str
    create_missing: bool = False

    def check(self, mapper: Mapper[Any]) -> None:
        rel = _relationship(mapper, self.relationship)
        if not rel.uselist:
            raise ValueError(f"Pluck({self.relationship!r}): not a to-many relationship")
        if self.column not in rel.mapper.columns:
            raise ValueError(f"Pluck: {rel.mapper.class_.__name__}.{self.column} is not a column")

    def expression(self, mapper: Mapper[Any], columns: Columns) -> ColumnElement[Any]:
        rel = _relationship(mapper, self.relationship)
        target = rel.mapper.local_table.alias()
        value = target.c[rel.mapper.columns[self.column].name]
        agg = func.coalesce(func.json_agg(aggregate_order_by(value, value)), _EMPTY_ARRAY)
        if rel.secondary is not None:
            parent, link_parent = _single(rel.synchronize_pairs, self.relationship)
            target_col, link_target = _single(rel.secondary_synchronize_pairs, self.relationship)
            link = rel.secondary.alias()
            joined = link.join(target, target.c[target_col.name] == link.c[link_target.name])
            where = link.c[link_parent.name] == columns[parent.name]
            return (
                select(agg).select_from(joined).where(where).correlate_except(link, target).scalar_subquery()
            )
        local, remote = _single(rel.local_remote_pairs, self.relationship)
        where = target.c[remote.name] == columns[local.name]
        return select(agg).select_from(target).where(where).correlate_except(target).scalar_subquery()


def reaches_caller(mapper: Mapper[Any], columns: Columns, hops: list[str]) -> ColumnElement[bool]:
    """The condition that the caller is among the rows `hops` reach from the row (see `CallerIn`)."""
    rest = hops[1:]
    who = caller()
    if hops[0] in mapper.columns and not rest:  # a column holding a user id: `author_id`, or `id`
        return columns[mapper.columns[hops[0]].name] == who  # type: ignore[no-any-return]
    rel = _relationship(mapper, hops[0])
    if rel.direction is RelationshipDirection.MANYTOONE:
        local, remote = _single(rel.local_remote_pairs, hops[0])
        key = columns[local.name]
        if not rest:
            return key == who  # type: ignore[no-any-return]
        return _from_key(rel.mapper, {remote.name: key}, rest)
    if rel.secondary is not None:
        parent, link_parent = _single(rel.synchronize_pairs, hops[0])
        target, link_target = _single(rel.secondary_synchronize_pairs, hops[0])
        link = rel.secondary.alias()
        joined = link.c[link_parent.name] == columns[parent.name]
        if not rest:
            return exists().where(joined, link.c[link_target.name] == who).correlate_except(link)
        return (
            exists()
            .where(joined, _from_key(rel.mapper, {target.name: link.c[link_target.name]}, rest))
            .correlate_except(link)
        )
    table = rel.mapper.local_table.alias()
    local, remote = _single(rel.local_remote_pairs, hops[0])
    joined = table.c[remote.name] == columns[local.name]
    if not rest:
        pk = rel.mapper.primary_key[0].name
        return exists().where(joined, table.c[pk] == who).correlate_except(table)
    return exists().where(joined, reaches_caller(rel.mapper, table.c, rest)).correlate_except(table)


def _from_key(mapper: Mapper[Any], known: dict[str, Any], hops: list[str]) -> ColumnElement[bool]:
    """Continue from the row of `mapper` whose key is known, joining its table only when needed."""
    try:
        return reaches_caller(mapper, known, hops)
    except KeyError:
        table = mapper.local_table.alias()
        ((name, value),) = known.items()
        return (
            exists()
            .where(and_(table.c[name] == value, reaches_caller(mapper, table.c, hops)))
            .correlate_except(table)
        )


def computed_fields(schema: type[Schema], extra: Mapping[str, Computed] | None = None) -> dict[str, Computed]:
    """The computed fields of a Read schema: `Annotated` metadata, then `extra` by field name."""
    found = {
        name: marker
        for name, field in schema.model_fields.items()
        for marker in field.metadata
        if isinstance(marker, Computed)
    }
    for name, marker in (extra or {}).items():
        if name not in schema.model_fields:
            raise ValueError(f"computed field {name!r} is not a field of {schema.__name__}")
        found[name] = marker
    return found
