"""The write rules of a model: applied the same way by every path that writes its rows.

Generated endpoints, `BaseController` and the admin site all write through `writes_for(model)`:
which fields are links to other rows (`tag_ids`), which columns the database manages (the primary
key, `version`, `created_at`, `updated_at`), the model's Python-side defaults and its hooks. A model
declares its hooks once, beside its columns:

    class User(BaseModel):
        __write_rules__ = WriteRules(before_create=hash_password_field, blocking=True)

Decisions every path shares: a value for a managed column is refused (422); a link to a row that
does not exist is a conflict (409) naming the link field; hooks see the validated fields and the
caller (None outside a request) and return the fields to write, where a value may be a SQL
expression.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

from anyio import to_thread
from pydantic import BaseModel as Schema
from sqlalchemy import ColumnElement, Table, UniqueConstraint
from sqlalchemy.orm import Mapper, RelationshipProperty

from pgbe.auth.principal import Principal
from pgbe.errors import ValidationError
from pgbe.naming import singularize
from pgbe.query.computed import Pluck

Hook = Callable[[dict[str, Any], Principal | None], dict[str, Any]]
MANAGED_COLUMNS = frozenset({"version", "created_at", "updated_at"})


@dataclass(frozen=True, slots=True)
class WriteRules:
    """What a model declares about its writes (`__write_rules__`).

    `before_create` / `before_update(data, principal)` return the fields to write; `blocking=True`
    says they do CPU-heavy work (hashing a password), so asynchronous paths run them in a thread.
    """

    before_create: Hook | None = None
    before_update: Hook | None = None
    blocking: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    """A body field that sets a to-many relationship: `tag_ids` (by primary key) or a list of names.

    `by` is the target column the values are matched on; `create_missing` creates the targets that do
    not exist yet (only for a unique `by` column other than the primary key).
    """

    key: str
    relationship: RelationshipProperty[Any]
    by: str
    create_missing: bool = False

    @property
    def target_column(self) -> str:
        """The link table's column that points to the target (named by constraint errors)."""
        (_, link_target), *_ = self.relationship.secondary_synchronize_pairs or ()
        return str(link_target.name)

    @property
    def by_primary_key(self) -> bool:
        """Tell whether the values are primary keys of the target."""
        return self.by == self.relationship.mapper.primary_key[0].key


@dataclass(frozen=True)
class ModelWrites:
    """The write rules of one model as every write path applies them."""

    mapper: Mapper[Any]
    rules: WriteRules
    managed: frozenset[str]
    _links: dict[Any, dict[str, Link]] = field(default_factory=dict, repr=False)

    @property
    def table(self) -> Any:
        """The model's table."""
        return self.mapper.local_table

    def links(
        self, schema: type[Schema] | None, plucks: Mapping[str, Pluck] | None = None
    ) -> dict[str, Link]:
        """The link fields of a body schema.

        `<singular>_ids` of a many-to-many relationship links by primary key; a field with a `Pluck`
        (in its own metadata, or a field of the same name in `plucks`, the Read schema's) links by
        that column.
        """
        if schema is None:
            return {}
        cache_key = (schema, frozenset((plucks or {}).items()))
        found = self._links.get(cache_key)
        if found is None:
            found = {key: link for key, link in self.all_links().items() if key in schema.model_fields}
            for name, field in schema.model_fields.items():
                marker = next((m for m in field.metadata if isinstance(m, Pluck)), (plucks or {}).get(name))
                if marker is not None:
                    found[name] = self._pluck_link(name, marker)
            self._links[cache_key] = found
        return found

    def _pluck_link(self, name: str, marker: Pluck) -> Link:
        rel = self.mapper.relationships.get(marker.relationship)
        if rel is None or rel.secondary is None:
            raise ValueError(f"{name}: Pluck({marker.relationship!r}) is not a many-to-many relationship")
        column = rel.mapper.columns[marker.column]
        table = cast(Table, rel.mapper.local_table)
        unique = (
            column.primary_key
            or column.unique
            or any(
                isinstance(c, UniqueConstraint) and [x.name for x in c.columns] == [column.name]
                for c in table.constraints
            )
            or any(i.unique and [x.name for x in i.columns] == [column.name] for i in table.indexes)
        )
        if not unique:
            raise ValueError(f"{name}: {table.name}.{column.name} is not unique; rows cannot be linked by it")
        return Link(name, rel, marker.column, marker.create_missing)

    def all_links(self) -> dict[str, Link]:
        """Every link field the model accepts in a plain dict (`tag_ids` for `tags`)."""
        links = {}
        for rel in self.mapper.relationships:
            if rel.secondary is not None:
                key = f"{singularize(rel.key)}_ids"
                links[key] = Link(key, rel, str(rel.mapper.primary_key[0].key))
        return links

    def check_schema(self, schema: type[Schema] | None, *, hooked: bool) -> None:
        """Refuse a body schema with a managed column, or (without a hook) a field that is no column."""
        if schema is None:
            return
        links = self.links(schema)
        for name in schema.model_fields:
            if name in self.managed:
                raise ValueError(f"{schema.__name__}.{name} is set by the database; it cannot be written")
            if not hooked and name not in self.mapper.columns and name not in links:
                raise ValueError(f"{schema.__name__}.{name} is not a column of {self.mapper.class_.__name__}")

    def split(
        self, data: Mapping[str, Any], links: Mapping[str, Link], *, ignore_unknown: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return (column values, link values); refuse managed columns and (unless ignored) other fields."""
        columns: dict[str, Any] = {}
        linked: dict[str, Any] = {}
        names = self.column_keys
        for key, value in data.items():
            if key in links:
                if value is not None:
                    linked[key] = list(dict.fromkeys(value))
            elif key in self.managed:
                raise ValidationError(f"body.{key}: is set by the database", field=key)
            elif key in names:
                columns[key] = value
            elif not ignore_unknown:
                raise ValidationError(f"body.{key}: not a field of {self.mapper.class_.__name__}", field=key)
        return columns, linked

    @cached_property
    def column_keys(self) -> frozenset[str]:
        """The attribute names of the model's columns (a set: one lookup per body field)."""
        return frozenset(self.mapper.columns.keys())

    @cached_property
    def _defaults(self) -> tuple[tuple[str, Any], ...]:
        # the columns with a Python-side default, found once: a table's columns do not change
        return tuple(
            (column.key, column.default)
            for column in self.table.c
            if column.default is not None and (column.default.is_scalar or column.default.is_callable)
        )

    def fill_defaults(self, data: dict[str, Any]) -> None:
        """Fill in the Python-side column defaults (`default="user"`) the way the ORM does."""
        for key, default in self._defaults:
            if key in data:
                continue
            data[key] = default.arg if default.is_scalar else default.arg(None)

    def hook(self, *, create: bool) -> Hook | None:
        """The hook run before a create or an update."""
        return self.rules.before_create if create else self.rules.before_update

    def prepare(self, data: dict[str, Any], principal: Principal | None, *, create: bool) -> dict[str, Any]:
        """Run the hook in this thread (synchronous paths: controllers, the admin site)."""
        hook = self.hook(create=create)
        return data if hook is None else hook(data, principal)

    async def prepare_async(
        self, data: dict[str, Any], principal: Principal | None, *, create: bool
    ) -> dict[str, Any]:
        """Run the hook from the event loop: in a worker thread when the rules say it is blocking."""
        hook = self.hook(create=create)
        if hook is None:
            return data
        if self.rules.blocking:
            return await to_thread.run_sync(hook, data, principal)
        return hook(data, principal)


def has_sql(data: Mapping[str, Any]) -> bool:
    """Tell whether a value is a SQL expression (the statement then cannot be cached)."""
    return any(isinstance(v, ColumnElement) for v in data.values())


def _managed(mapper: Mapper[Any]) -> frozenset[str]:
    names = {name for name in MANAGED_COLUMNS if name in mapper.columns}
    serial = cast(Table, mapper.local_table).autoincrement_column  # a primary key the database numbers
    if serial is not None:
        names.add(serial.key)
    return frozenset(names)


_WRITES: dict[type[Any], ModelWrites] = {}


def writes_for(model: type[Any]) -> ModelWrites:
    """Return the write rules of `model` (its `__write_rules__`, or none)."""
    found = _WRITES.get(model)
    if found is None:
        mapper: Mapper[Any] = model.__mapper__
        rules = getattr(model, "__write_rules__", None) or WriteRules()
        if not isinstance(rules, WriteRules):
            raise TypeError(f"{model.__name__}.__write_rules__ must be a WriteRules")
        found = _WRITES[model] = ModelWrites(mapper, rules, _managed(mapper))
    return found


__all__ = ["Hook", "Link", "ModelWrites", "WriteRules", "has_sql", "writes_for"]
