"""The one SQL statement of each generated endpoint, as SQLAlchemy Core, compiled once per shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel as Schema
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    all_,
    and_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal_column,
    null,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapper, RelationshipProperty
from sqlalchemy.sql import ClauseElement

from pgbe.query.builder import order_by, sort_columns, where_clauses
from pgbe.query.params import ListParams
from pgbe.query.spec import QuerySpec, related_schema
from pgbe.resources.json_sql import grouped_related_json, json_object, page_json
from pgbe.writes import Link

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


@dataclass(frozen=True)
class Target:
    """What the statements of one resource need to know about its model."""

    mapper: Mapper[Any]
    read: type[Schema]
    spec: QuerySpec
    owner_field: str | None
    links: Mapping[str, Link]

    @property
    def table(self) -> Any:
        """The model's table."""
        return self.mapper.local_table

    @property
    def pk(self) -> Any:
        """The primary key column."""
        return self.table.c[self.mapper.primary_key[0].name]

    @property
    def versioned(self) -> bool:
        """Tell whether rows carry a `version` (optimistic locking, ETag)."""
        return "version" in self.table.c

    def id_param(self) -> Any:
        """The `id` parameter."""
        return bindparam("id", type_=self.pk.type)

    def scope(self, scoped: bool) -> list[ColumnElement[bool]]:
        """The owner condition of a caller who sees only their own rows."""
        if not scoped or self.owner_field is None:
            return []
        column = self.table.c[self.owner_field]
        return [column == bindparam("owner", type_=column.type)]

    def version_of(self, columns: Any) -> Any:
        """The version column, or NULL for unversioned models."""
        return columns["version"] if self.versioned else null()


def select_one(
    t: Target, includes: Sequence[str], *, scoped: bool, guard: ColumnElement[bool] | None = None
) -> Select[Any]:
    """`SELECT json, version FROM table WHERE id = $id [AND owner = $owner]`.

    With a `guard` (the caller's session check) it answers exactly one row, `json, version, allowed`:
    the guard's outcome outer-joined to the row, which is looked up only when the guard holds.
    """
    table = t.table
    body = json_object(t.mapper, t.read, table.c, includes)
    matched = [t.pk == t.id_param(), *t.scope(scoped)]
    if guard is None:
        return select(body, t.version_of(table.c)).where(*matched)
    auth = select(guard.label("allowed")).subquery("auth")
    return select(case((t.pk.is_not(None), body)), t.version_of(table.c), auth.c.allowed).select_from(
        auth.outerjoin(table, and_(auth.c.allowed, *matched))
    )


def select_page(
    t: Target, params: ListParams, *, scoped: bool, guard: ColumnElement[bool] | None = None
) -> Select[Any]:
    """One statement answering `{"items": [...], "total": n, "skip": s, "limit": l}`.

    With a `guard` that fails it answers no row, and builds no page.
    """
    table, spec = t.table, t.spec
    conditions = [*where_clauses(params), *t.scope(scoped)]
    skip = bindparam("skip", type_=Integer)
    limit = bindparam("limit", type_=Integer)
    page = (
        select(table, *sort_columns(spec, params))
        .where(*conditions)
        .order_by(*order_by(spec, params))
        .offset(skip)
        .limit(limit)
        .cte("page")
    )
    rows: Any = page
    related: dict[str, ColumnElement[Any]] = {}
    for name in params.includes:  # to-many includes: aggregated once for the page, joined to its rows
        rel = t.mapper.relationships[name]
        nested = related_schema(t.read.model_fields[name].annotation)
        grouped = grouped_related_json(rel, nested, page) if rel.uselist and nested is not None else None
        if grouped is not None:
            sub, onclause = grouped
            rows = rows.outerjoin(sub, onclause)
            related[name] = page_json(sub.c["items"])
    body = json_object(t.mapper, t.read, page.c, params.includes, related=related)
    order = order_by(spec, params, page.c)
    items = select(func.json_agg(aggregate_order_by(body, *order))).select_from(rows).scalar_subquery()
    total = select(func.count()).select_from(table).where(*conditions).scalar_subquery()
    result = select(
        func.json_build_object(
            literal_column("'items'"),
            page_json(items),
            literal_column("'total'"),
            total,
            literal_column("'skip'"),
            skip,
            literal_column("'limit'"),
            limit,
        )
    )
    return result if guard is None else result.where(guard)  # a one-time filter: no page is built


def _value(t: Target, key: str, value: Any) -> Any:
    if isinstance(value, ColumnElement):
        return value
    return bindparam(f"v_{key}", value, type_=t.table.c[key].type)


def _link_columns(rel: RelationshipProperty[Any]) -> tuple[Any, Any, Any]:
    """Return (parent key column, link column to the parent, link column to the target)."""
    (parent_col, link_parent), *_ = rel.synchronize_pairs
    (_, link_target), *_ = rel.secondary_synchronize_pairs or ()
    return parent_col, link_parent, link_target


def _ids_param(key: str, rel: RelationshipProperty[Any], ids: Sequence[Any]) -> Any:
    return bindparam(f"l_{key}", list(ids), type_=ARRAY(rel.mapper.primary_key[0].type))


def insert_row(
    t: Target,
    data: Mapping[str, Any],
    links: Mapping[str, Sequence[Any]],
    *,
    guard: ColumnElement[bool] | None = None,
) -> Any:
    """INSERT ... RETURNING json, id, version; link rows (e.g. product_tags) in data-modifying CTEs.

    With a `guard`, the row is inserted from a SELECT filtered by it: no row returned, nothing written.
    """
    table = t.table
    values = {k: _value(t, k, v) for k, v in data.items()}
    if guard is None:
        stmt = insert(table).values(values)
    else:
        source = select(*(value.label(key) for key, value in values.items())).where(guard)
        stmt = insert(table).from_select(list(values), source)
    if not links:
        return stmt.returning(json_object(t.mapper, t.read, table.c), t.pk, t.version_of(table.c))
    row = stmt.returning(*table.c).cte("row")
    result = select(json_object(t.mapper, t.read, row.c), row.c[t.pk.name], t.version_of(row.c))
    for key, ids in links.items():
        rel = t.links[key].relationship
        parent_col, link_parent, link_target = _link_columns(rel)
        rows = select(row.c[parent_col.name], func.unnest(_ids_param(key, rel, ids))).distinct()
        assert rel.secondary is not None
        cte = (
            insert(cast(Table, rel.secondary))
            .from_select([link_parent.name, link_target.name], rows)
            .cte(f"add_{key}")
        )
        result = result.add_cte(cte)
    return result


def update_row(
    t: Target,
    data: Mapping[str, Any],
    links: Mapping[str, Sequence[Any]],
    *,
    scoped: bool,
    check_version: bool,
    guard: ColumnElement[bool] | None = None,
) -> Select[Any]:
    """UPDATE ... RETURNING json, version, found, allowed: `found` tells 404 from 412 in the same snapshot.

    `allowed` is the guard's outcome (NULL without one): when it is false nothing was written.
    """
    table = t.table
    conditions = [t.pk == t.id_param(), *t.scope(scoped)]
    matched = list(conditions)
    allowed = _guard_once(guard)
    if allowed is not None:
        matched.append(allowed)
    if check_version:
        matched.append(table.c.version == any_(bindparam("versions", type_=ARRAY(Integer))))
    values = {k: _value(t, k, v) for k, v in data.items()}
    if "updated_at" in table.c:
        values["updated_at"] = func.now()
    if t.versioned:
        values["version"] = table.c.version + 1
    row = update(table).where(*matched).values(values).returning(*table.c).cte("row")
    body = select(json_object(t.mapper, t.read, row.c)).scalar_subquery()
    version = select(t.version_of(row.c)).scalar_subquery()
    found = exists().where(*conditions) if check_version else null()
    result = select(body, version, found, null() if allowed is None else allowed)
    for key, ids in links.items():
        rel = t.links[key].relationship
        parent_col, link_parent, link_target = _link_columns(rel)
        assert rel.secondary is not None
        link = cast(Table, rel.secondary)
        param = _ids_param(key, rel, ids)
        gone = delete(link).where(
            link.c[link_parent.name].in_(select(row.c[parent_col.name])),
            link.c[link_target.name] != all_(param),
        )
        rows = select(row.c[parent_col.name], func.unnest(param)).distinct()
        added = (
            pg_insert(link).from_select([link_parent.name, link_target.name], rows).on_conflict_do_nothing()
        )
        result = result.add_cte(gone.cte(f"drop_{key}")).add_cte(added.cte(f"add_{key}"))
    return result


def delete_row(
    t: Target, *, scoped: bool, check_version: bool, guard: ColumnElement[bool] | None = None
) -> Select[Any]:
    """DELETE ... and say whether a row was deleted, whether it existed and whether the guard held."""
    table = t.table
    conditions = [t.pk == t.id_param(), *t.scope(scoped)]
    matched = list(conditions)
    allowed = _guard_once(guard)
    if allowed is not None:
        matched.append(allowed)
    if check_version:
        matched.append(table.c.version == any_(bindparam("versions", type_=ARRAY(Integer))))
    row = delete(table).where(*matched).returning(t.pk).cte("row")
    deleted = select(func.count()).select_from(row).scalar_subquery()
    found = exists().where(*conditions) if check_version else null()
    return select(deleted, found, null() if allowed is None else allowed)


def _guard_once(guard: ColumnElement[bool] | None) -> Any:
    """The guard as a scalar of a CTE, so that the write and the answer share one evaluation of it."""
    if guard is None:
        return None
    return select(select(guard.label("allowed")).cte("auth").c.allowed).scalar_subquery()
