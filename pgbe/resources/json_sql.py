"""SQL expressions that make PostgreSQL build a Read schema's JSON, related rows included."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel as Schema
from sqlalchemy import (
    ColumnElement,
    DateTime,
    FromClause,
    Subquery,
    and_,
    case,
    func,
    literal_column,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Mapper, RelationshipProperty
from sqlalchemy.sql.expression import ColumnCollection

from pgbe.query.spec import related_schema

_UTC: ColumnElement[Any] = literal_column("'UTC'")
# pydantic writes UTC datetimes as ...T12:00:00Z, or ...T12:00:00.123400Z when there are microseconds.
_WHOLE: ColumnElement[Any] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS"Z"'""")
_FRACTION: ColumnElement[Any] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'""")
_WHOLE_NAIVE: ColumnElement[Any] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS'""")
_FRACTION_NAIVE: ColumnElement[Any] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US'""")
_EMPTY_ARRAY: ColumnElement[Any] = literal_column("'[]'::json")
_SECOND: ColumnElement[Any] = literal_column("'second'")

Columns = ColumnCollection[str, Any]


def _key(name: str) -> ColumnElement[Any]:
    if not name.isidentifier():
        raise ValueError(f"{name!r} cannot be a JSON key")
    return literal_column(f"'{name}'")


def json_value(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """Return `column` as PostgreSQL should put it in JSON (timestamps in pydantic's format)."""
    sa_type = column.type
    if isinstance(sa_type, DateTime):
        if sa_type.timezone:
            utc = func.timezone(_UTC, column)
            return func.to_char(utc, case((func.date_trunc(_SECOND, utc) == utc, _WHOLE), else_=_FRACTION))
        return func.to_char(
            column, case((func.date_trunc(_SECOND, column) == column, _WHOLE_NAIVE), else_=_FRACTION_NAIVE)
        )
    return column


def check_read_schema(mapper: Mapper[Any], read: type[Schema]) -> None:
    """Refuse a Read schema with a field that is neither a column nor a relationship of the model."""
    for name in read.model_fields:
        if name not in mapper.columns and name not in mapper.relationships:
            raise ValueError(f"{read.__name__}.{name} is neither a column nor a relationship of {mapper}")


def json_object(
    mapper: Mapper[Any],
    read: type[Schema],
    columns: Columns,
    includes: Collection[str] = (),
    *,
    related: Mapping[str, ColumnElement[Any]] | None = None,
) -> ColumnElement[Any]:
    """Return `json_build_object(...)` of `read`'s fields, in its field order, from `columns`.

    `related` gives the JSON of some included relationships, already computed; the others are
    correlated subqueries.
    """
    args: list[ColumnElement[Any]] = []
    for name, field in read.model_fields.items():
        args.append(_key(name))
        if name in mapper.relationships:
            if related is not None and name in related:
                args.append(related[name])
            elif name in includes:
                nested = related_schema(field.annotation)
                assert nested is not None
                args.append(related_json(mapper.relationships[name], nested, columns))
            else:
                args.append(null())
        else:
            args.append(json_value(columns[mapper.columns[name].name]))
    return func.json_build_object(*args)


def related_json(rel: RelationshipProperty[Any], read: type[Schema], parent: Columns) -> ColumnElement[Any]:
    """Return a scalar subquery with the JSON of the rows `rel` points to from the `parent` row."""
    target = rel.mapper.local_table.alias()
    body = json_object(rel.mapper, read, target.c)
    pk = target.c[rel.mapper.primary_key[0].name]
    if rel.secondary is not None:
        link = rel.secondary.alias()
        to_parent = [link.c[sec.name] == parent[col.name] for col, sec in rel.synchronize_pairs]
        to_target = [
            target.c[col.name] == link.c[sec.name] for col, sec in rel.secondary_synchronize_pairs or ()
        ]
        agg = func.coalesce(func.json_agg(aggregate_order_by(body, pk)), _EMPTY_ARRAY)
        return (
            select(agg).select_from(link.join(target, and_(*to_target))).where(*to_parent).scalar_subquery()
        )
    condition = [target.c[remote.name] == parent[local.name] for local, remote in rel.local_remote_pairs]
    if rel.uselist:
        agg = func.coalesce(func.json_agg(aggregate_order_by(body, pk)), _EMPTY_ARRAY)
        return select(agg).select_from(target).where(*condition).scalar_subquery()
    return select(body).select_from(target).where(*condition).limit(1).scalar_subquery()


def grouped_related_json(
    rel: RelationshipProperty[Any], read: type[Schema], parents: FromClause
) -> tuple[Subquery, ColumnElement[bool]] | None:
    """Return a subquery of `(parent_key, items)`, the JSON arrays of `rel` for every row of `parents`.

    For a page of rows this replaces one correlated subquery per row (the planner re-hashes the
    related table for each) with one join and GROUP BY over the page's keys. The second value joins
    the subquery to `parents`. None for composite keys, which keep the correlated subquery.
    """
    target = rel.mapper.local_table.alias()
    body = json_object(rel.mapper, read, target.c)
    pk = target.c[rel.mapper.primary_key[0].name]
    if rel.secondary is not None:
        link = rel.secondary.alias()
        if len(rel.synchronize_pairs) != 1:
            return None
        ((parent_col, link_parent),) = rel.synchronize_pairs
        to_target = [
            target.c[col.name] == link.c[sec.name] for col, sec in rel.secondary_synchronize_pairs or ()
        ]
        key = link.c[link_parent.name]
        source: Any = link.join(target, and_(*to_target))
    else:
        if len(rel.local_remote_pairs) != 1:
            return None
        ((parent_col, remote),) = rel.local_remote_pairs
        key = target.c[remote.name]
        source = target
    grouped = (
        select(key.label("parent_key"), func.json_agg(aggregate_order_by(body, pk)).label("items"))
        .select_from(source)
        .where(key.in_(select(parents.c[parent_col.name])))
        .group_by(key)
        .subquery()
    )
    return grouped, grouped.c.parent_key == parents.c[parent_col.name]


def page_json(items: ColumnElement[Any]) -> ColumnElement[Any]:
    """Return `coalesce(json_agg(...), '[]')`: an empty page is an empty array, not null."""
    return func.coalesce(items, _EMPTY_ARRAY)
