"""SQL expressions that make PostgreSQL build a Read schema's JSON, related rows included."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel as Schema
from pydantic.fields import FieldInfo
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

from pgbe.query.computed import Computed, computed_fields
from pgbe.query.spec import related_schema

_UTC: ColumnElement[Any] = literal_column("'UTC'")
# pydantic writes UTC datetimes as ...T12:00:00Z, or ...T12:00:00.123400Z when there are microseconds.
_WHOLE: ColumnElement[Any] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS"Z"'""")
_FRACTION: ColumnElement[Any] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'""")
_WHOLE_NAIVE: ColumnElement[Any] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS'""")
_FRACTION_NAIVE: ColumnElement[Any] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US'""")
_EMPTY_ARRAY: ColumnElement[Any] = literal_column("'[]'::json")
_SECOND: ColumnElement[Any] = literal_column("'second'")

Columns = Any  # a row's columns by name (a table's, a CTE's or an alias's `.c`)


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


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """How one field of a Read schema gets into the row's JSON."""

    name: str
    key: str  # the JSON key: the field's serialization alias, else its name
    column: str | None = None
    relationship: RelationshipProperty[Any] | None = None
    nested: type[Schema] | None = None
    always: bool = False  # a relationship field without a default is embedded on every request
    computed: Computed | None = None


def json_key(name: str, field: FieldInfo) -> str:
    """The key a field has in the JSON (its serialization alias, as pydantic writes it)."""
    return field.serialization_alias or field.alias or name


def read_plan(
    mapper: Mapper[Any], read: type[Schema], computed: Mapping[str, Computed] | None = None
) -> tuple[FieldPlan, ...]:
    """The plan of every field of `read`: a column, a relationship or a computed field (checked)."""
    key = (mapper, read, frozenset((computed or {}).items()))
    plan = _PLANS.get(key)
    if plan is None:
        markers = computed_fields(read, computed)
        fields = []
        for name, field in read.model_fields.items():
            out = json_key(name, field)
            _key(out)
            if name in markers:
                markers[name].check(mapper)
                fields.append(FieldPlan(name, out, computed=markers[name]))
            elif name in mapper.relationships:
                nested = related_schema(field.annotation)
                if nested is None:
                    raise ValueError(f"{read.__name__}.{name} is not a schema or a list of schemas")
                rel = mapper.relationships[name]
                fields.append(
                    FieldPlan(name, out, relationship=rel, nested=nested, always=field.is_required())
                )
            elif name in mapper.columns:
                fields.append(FieldPlan(name, out, column=mapper.columns[name].name))
            else:
                raise ValueError(
                    f"{read.__name__}.{name} is neither a column, a relationship nor a computed field"
                    f" of {mapper.class_.__name__}"
                )
        plan = _PLANS[key] = tuple(fields)
    return plan


_PLANS: dict[Any, tuple[FieldPlan, ...]] = {}


def check_read_schema(
    mapper: Mapper[Any], read: type[Schema], computed: Mapping[str, Computed] | None = None
) -> None:
    """Refuse a Read schema with a field that is neither a column, a relationship nor computed."""
    for field in read_plan(mapper, read, computed):
        if field.nested is not None:
            check_read_schema(field.relationship.mapper, field.nested)  # type: ignore[union-attr]


def embedded(plan: tuple[FieldPlan, ...], includes: Collection[str]) -> list[FieldPlan]:
    """The relationship fields a row's JSON embeds: those always embedded and those included."""
    return [f for f in plan if f.relationship is not None and (f.always or f.name in includes)]


def json_object(
    mapper: Mapper[Any],
    read: type[Schema],
    columns: Columns,
    includes: Collection[str] = (),
    *,
    related: Mapping[str, ColumnElement[Any]] | None = None,
    computed: Mapping[str, Computed] | None = None,
    overrides: Mapping[str, ColumnElement[Any]] | None = None,
    only: str | None = None,
) -> ColumnElement[Any]:
    """Return `json_build_object(...)` of `read`'s fields, in its field order, from `columns`.

    `related` gives the JSON of some embedded relationships, already computed; the others are
    correlated subqueries. `overrides` replaces the value of some fields (a write that changed what
    they are computed from, in the same statement). With `only`, the JSON value of that one field.
    """
    plan = read_plan(mapper, read, computed)
    shown = {f.name for f in embedded(plan, includes)}
    args: list[ColumnElement[Any]] = []
    for field in plan:
        if only is not None and field.name != only:
            continue
        if overrides is not None and field.name in overrides:
            value = overrides[field.name]
        elif field.computed is not None:
            value = field.computed.json(mapper, columns)
        elif field.relationship is not None:
            if related is not None and field.name in related:
                value = related[field.name]
            elif field.name in shown:
                assert field.nested is not None
                value = related_json(field.relationship, field.nested, columns)
            else:
                value = null()
        else:
            assert field.column is not None
            value = json_value(columns[field.column])
        if only is not None:
            return value
        args += [_key(field.key), value]
    if only is not None:
        raise ValueError(f"{read.__name__} has no field {only!r}")
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
            select(agg)
            .select_from(link.join(target, and_(*to_target)))
            .where(*to_parent)
            .correlate_except(link, target)
            .scalar_subquery()
        )
    condition = [target.c[remote.name] == parent[local.name] for local, remote in rel.local_remote_pairs]
    if rel.uselist:
        agg = func.coalesce(func.json_agg(aggregate_order_by(body, pk)), _EMPTY_ARRAY)
        return select(agg).select_from(target).where(*condition).correlate_except(target).scalar_subquery()
    return (
        select(body).select_from(target).where(*condition).correlate_except(target).limit(1).scalar_subquery()
    )


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
