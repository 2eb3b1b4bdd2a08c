"""The read statements of a resource: one row, and a page of rows with its total, each one statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from pgbe.auth.guard import session_guard
from pgbe.query.builder import sort_columns, where_clauses
from pgbe.query.computed import Computed
from pgbe.query.keyset import keyset_condition, sort_keys
from pgbe.query.params import ListParams
from pgbe.resources.counts import CountStrategy, total_columns
from pgbe.resources.json_sql import embedded, grouped_related_json, page_json, read_plan
from pgbe.resources.statements import Access, Target, parent_key


def select_one(t: Target, includes: Sequence[str], access: Access) -> Select[Any]:
    """`SELECT json, version, allowed, session FROM table WHERE lookup = $key [AND owner] [AND parent]`.

    For a signed-in caller it answers exactly one row: the session check outer-joined to the row,
    which is looked up only when the check holds (`json` NULL for a missing row).
    """
    table = t.table
    body = t.wrap(t.json(table.c, includes))
    matched = t.item(table.c, access)
    if not access.guarded:
        return select(body, t.version_of(table.c), t.allowed(table.c, access), null()).where(*matched)
    auth = select(session_guard().label("session")).subquery("auth")
    found = case((t.pk.is_not(None), body))
    return select(found, t.version_of(table.c), t.allowed(table.c, access), auth.c.session).select_from(
        auth.outerjoin(table, and_(auth.c.session, *matched))
    )


def _key(name: str) -> ColumnElement[Any]:
    return literal_column(f"'{name}'")


@dataclass(frozen=True, slots=True)
class PageShape:
    """What a list request changes in the text of its statement beyond its parameters.

    `count`: the count strategy; `estimator`: whether the database has `pgbe_count_estimate`;
    `seek`: the NULLs of a cursor's values (None without a cursor); `backward`: a `prev` page.
    """

    count: CountStrategy = "exact"
    estimator: bool = True
    seek: tuple[bool, ...] | None = None
    backward: bool = False


def select_page(
    t: Target,
    params: ListParams,
    access: Access,
    *,
    where: Computed | None = None,
    shape: PageShape | None = None,
) -> Select[Any]:
    """One statement answering a page: `{"items": [...], "total": n, "skip": s, "limit": l, ...}`.

    The keys are the resource's envelope; `where` is a view's condition. The other columns: whether
    the parent of a nested resource exists for the caller (true without a parent), the kind of
    total, the sort keys of the page's first and last rows as text (for cursors), and whether rows
    follow the page in the direction it was read. One more row than the page is read to know that.
    """
    shape = shape or PageShape()
    table, spec, envelope = t.table, t.spec, t.resource.envelope
    conditions = [*where_clauses(params), *t.scope(table.c, access)]
    if where is not None:
        conditions.append(where.expression(t.mapper, table.c))
    keys = sort_keys(spec, params)
    backward = shape.backward
    seek = list(conditions)
    if shape.seek is not None:
        seek.append(keyset_condition(keys, shape.seek, backward=backward))
    skip = bindparam("skip", type_=Integer)
    limit = bindparam("limit", type_=Integer)
    fetched = (
        select(table, *sort_columns(spec, params))
        .where(*seek)
        .order_by(*(key.ordered(backward=backward) for key in keys))
        .offset(skip)
        .limit(limit + 1)
        .cte("fetched")
    )
    page = (
        select(fetched)
        .order_by(*(key.ordered(fetched.c[key.label], backward=backward) for key in keys))
        .limit(limit)
        .cte("page")
    )
    rows: Any = page
    related: dict[str, ColumnElement[Any]] = {}
    plan = read_plan(t.mapper, t.read, t.resource.computed)
    for field in embedded(plan, params.includes):  # to-many ones aggregated once for the page
        rel, nested = field.relationship, field.nested
        assert rel is not None
        grouped = grouped_related_json(rel, nested, page) if rel.uselist and nested is not None else None
        if grouped is not None:
            sub, onclause = grouped
            rows = rows.outerjoin(sub, onclause)
            related[field.name] = page_json(sub.c["items"])
    if envelope.each is not None:  # `{"tags": ["a", "b"]}`: one field of each row
        body = t.json(page.c, params.includes, related=related, only=envelope.each)
    else:
        body = t.json(page.c, params.includes, related=related)
    order = [key.ordered(page.c[key.label]) for key in keys]
    items = select(func.json_agg(aggregate_order_by(body, *order))).select_from(rows).scalar_subquery()
    pairs: list[ColumnElement[Any]] = [_key(envelope.items), page_json(items)]
    kind: ColumnElement[Any] = null()
    if envelope.total is not None:
        total, kind = total_columns(shape.count, table, conditions, estimator=shape.estimator)
        pairs += [_key(envelope.total), total]
        if envelope.total_kind is not None:
            pairs += [_key(envelope.total_kind), kind]
    if envelope.skip is not None:
        pairs += [_key(envelope.skip), skip]
    if envelope.limit is not None:
        pairs += [_key(envelope.limit), limit]
    found: Any = true()
    if t.resource.parent is not None:
        found = parent_key(t.resource, 0, access.parents).is_not(None)
    edge = func.json_build_array(*(cast(page.c[key.label], Text) for key in keys))
    first = select(edge).select_from(page).order_by(*order).limit(1).scalar_subquery()
    last = (
        select(edge)
        .select_from(page)
        .order_by(*(key.ordered(page.c[key.label], backward=True) for key in keys))
        .limit(1)
        .scalar_subquery()
    )
    more = select(func.count()).select_from(fetched).scalar_subquery() > limit
    result = select(func.json_build_object(*pairs), found, kind, first, last, more)
    # a signed-in caller whose session check fails gets no row, and no page is built
    return result.where(session_guard()) if access.guarded else result
