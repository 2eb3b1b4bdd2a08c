"""What every statement of a resource shares: compilation once per shape, and the row it targets.

The statements themselves are in `read_sql` (GET one, lists) and `write_sql` (create, update,
delete, actions). Each is SQLAlchemy Core, compiled once per shape for asyncpg; every value is a
named bind parameter (`key`, `p0`, `owner`, `caller`, `v_<column>`, `f<i>`, ...).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Integer, bindparam, func, literal_column, null, select, true
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.sql import ClauseElement

from pgbe.auth.guard import session_guard
from pgbe.query.computed import Computed
from pgbe.resources.json_sql import json_object
from pgbe.writes import Link

if TYPE_CHECKING:
    from pgbe.resources.resource import Resource

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class Compiled:
    """SQL text with `$n` placeholders and the parameter name of each position."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        """Return the positional arguments for `values` (embedded literals from `defaults`)."""
        return [values[n] if n in values else self.defaults[n] for n in self.names]


def compile_statement(stmt: ClauseElement) -> Compiled:
    """Compile `stmt` for asyncpg, keeping the values of parameters the caller will not supply."""
    compiled: Any = stmt.compile(dialect=_DIALECT)
    names = tuple(compiled.positiontup or ())
    params = compiled.construct_params(_check=False) or {}
    # Only anonymous literals (e.g. from a hook's SQL expression) are kept: named parameters are
    # supplied by every request, and a cached statement must not hold one request's values.
    anonymous = {name for bind, name in compiled.bind_names.items() if bind.unique}
    defaults = {name: value for name, value in params.items() if name in anonymous}
    return Compiled(compiled.string, names, defaults)


def known_integer(value: int | None, name: str, plus: int = 0) -> ColumnElement[Any]:
    """`value + plus` written into the text, or the parameter `name` plus `plus` when `value` is None.

    For a LIMIT: PostgreSQL prices a prepared statement's generic plan only with a LIMIT it can read.
    """
    if value is None:
        param = bindparam(name, type_=Integer)
        return param + plus if plus else param
    return literal_column(str(int(value) + plus), Integer)


@dataclass(frozen=True, slots=True)
class Access:
    """What the caller's identity changes in a statement's text: scoping and row rules.

    `scoped`: only rows whose owner is the caller; `parents`: the same for each parent, innermost
    first; `rule`: a row condition the caller must pass (403 otherwise), None when exempt or absent;
    `guarded`: a signed-in caller, whose session the statement checks (`pgbe.auth.guard`).
    """

    scoped: bool = False
    parents: tuple[bool, ...] = ()
    rule: Computed | None = None
    guarded: bool = False


@dataclass(frozen=True)
class Target:
    """What the statements of one resource need to know about its model."""

    resource: Resource
    links: Mapping[str, Link]

    @property
    def mapper(self) -> Any:
        """The model's mapper."""
        return self.resource.mapper

    @property
    def read(self) -> Any:
        """The Read schema."""
        return self.resource.read

    @property
    def spec(self) -> Any:
        """The allow-lists."""
        return self.resource.spec

    @property
    def owner_field(self) -> str | None:
        """The column whose value is the owner's user id."""
        return self.resource.owner_field

    @property
    def table(self) -> Any:
        """The model's table."""
        return self.mapper.local_table

    @property
    def pk(self) -> Any:
        """The primary key column."""
        return self.table.c[self.mapper.primary_key[0].name]

    @property
    def lookup(self) -> Any:
        """The column items are looked up by (the primary key, or a unique column)."""
        return self.table.c[self.resource.lookup.name]

    @property
    def versioned(self) -> bool:
        """Tell whether rows carry a `version` (optimistic locking, ETag)."""
        return "version" in self.table.c

    def key_param(self) -> Any:
        """The `key` parameter: the item's lookup value from the path."""
        return bindparam("key", type_=self.lookup.type)

    def version_of(self, columns: Any) -> Any:
        """The version column, or NULL for unversioned models."""
        return columns["version"] if self.versioned else null()

    def scope(self, columns: Any, access: Access) -> list[ColumnElement[bool]]:
        """The owner condition of a caller who sees only their own rows, and the parent's condition."""
        found: list[ColumnElement[bool]] = []
        if access.scoped and self.owner_field is not None:
            column = columns[self.owner_field]
            found.append(column == bindparam("owner", type_=column.type))
        parent_column = self.resource.parent_column
        if parent_column is not None:
            found.append(columns[parent_column] == parent_key(self.resource, 0, access.parents))
        return found

    def item(self, columns: Any, access: Access) -> list[ColumnElement[bool]]:
        """The conditions that find the item of the path, as this caller sees it."""
        return [columns[self.lookup.name] == self.key_param(), *self.scope(columns, access)]

    def allowed(self, columns: Any, access: Access) -> ColumnElement[bool]:
        """The row rule of this request (true when there is none)."""
        if access.rule is None:
            return true()
        return func.coalesce(access.rule.expression(self.mapper, columns), False)

    def json(
        self,
        columns: Any,
        includes: Collection[str] = (),
        *,
        related: Mapping[str, ColumnElement[Any]] | None = None,
        overrides: Mapping[str, ColumnElement[Any]] | None = None,
        only: str | None = None,
    ) -> ColumnElement[Any]:
        """The JSON of one row (unwrapped), or of one field of it."""
        return json_object(
            self.mapper,
            self.read,
            columns,
            includes,
            related=related,
            computed=self.resource.computed,
            overrides=overrides,
            only=only,
        )

    def wrap(self, body: ColumnElement[Any]) -> ColumnElement[Any]:
        """The item envelope around one row's JSON (`{"article": ...}`), if the resource has one."""
        key = self.resource.envelope.item
        return body if key is None else func.json_build_object(literal_column(f"'{key}'"), body)


def guard_once(access: Access) -> Any:
    """The caller's session check as a scalar of a CTE, evaluated once (NULL for anonymous callers).

    The write and the answer share its one evaluation: a failed guard writes nothing and says so.
    """
    if not access.guarded:
        return null()
    return select(select(session_guard().label("session")).cte("auth").c.session).scalar_subquery()


def parent_key(res: Resource, depth: int, parents: Sequence[bool]) -> Any:
    """The key of the parent the path names (bind `p<depth>`), if the caller may see it, else NULL."""
    parent = res.parent
    rel = res.parent_relationship
    assert parent is not None
    assert rel is not None
    ((_, remote),) = rel.local_remote_pairs
    table = parent.mapper.local_table.alias(f"parent_{depth}")
    lookup = table.c[parent.lookup.name]
    conditions = [lookup == bindparam(f"p{depth}", type_=lookup.type)]
    if depth < len(parents) and parents[depth] and parent.owner_field is not None:
        column = table.c[parent.owner_field]
        conditions.append(column == bindparam("owner", type_=column.type))
    if parent.parent_column is not None:
        conditions.append(table.c[parent.parent_column] == parent_key(parent, depth + 1, parents))
    return select(table.c[remote.name]).where(*conditions).scalar_subquery()


__all__ = ["Access", "Compiled", "Target", "compile_statement", "parent_key"]
