"""The read statements of a resource: one row, and a page of rows with its total, each one statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
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
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.selectable import CTE

from pgbe.auth.guard import session_guard
from pgbe.query.builder import sort_columns, where_clauses
from pgbe.query.computed import Computed
from pgbe.query.keyset import SortKey, keyset_condition, sort_keys
from pgbe.query.params import ListParams
from pgbe.resources.counts import CountStrategy, total_columns
from pgbe.resources.json_sql import embedded, grouped_related_json, page_json, read_plan
from pgbe.resources.statements import Access, Target, known_integer, parent_key


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
    `seek`: the NULLs of a cursor's values (None without a cursor); `backward`: a `prev` page;
    `limit`: the page size written into the text (None: the `limit` parameter); `offset`: whether
    rows are skipped (without, no OFFSET); `threshold`: the estimated count's threshold written into
    the text (None: the `count_threshold` parameter).

    A LIMIT the planner can read lets PostgreSQL keep one generic plan of a prepared statement: with
    `LIMIT $1` (or any OFFSET $2) it assumes a tenth of the rows are wanted, prices the generic plan
    far above the custom one, and plans every execution again.
    """

    count: CountStrategy = "exact"
    estimator: bool = True
    seek: tuple[bool, ...] | None = None
    backward: bool = False
    limit: int | None = None
    offset: bool = True
    threshold: int | None = None


# A filtered list whose estimated count finds at most this many matches sorts its page out of them.
SORTED_MATCHES = 1000


@dataclass(frozen=True, slots=True)
class _Matches:
    """A filtered list's first threshold + 1 matches (`key`, sort values `s0`...) and their number.

    `few`: the condition under which the page is sorted out of them (they are all of the matches).
    """

    matched: CTE
    counted: CTE
    few: ColumnElement[bool]


def _bounded_matches(
    t: Target,
    params: ListParams,
    conditions: Sequence[ColumnElement[bool]],
    keys: Sequence[SortKey],
    shape: PageShape,
) -> _Matches | None:
    """The bounded matches of a filtered list, which its page and its estimated total share.

    An estimated total reads up to threshold + 1 matches anyway; they carry their sort values, and
    when they are all of the matches and few, the page is sorted out of them, its rows then read by
    key, so the filter runs once. Otherwise the page walks the sort's index, where matches are many
    and come early. A substring search sorts up to threshold matches: the planner cannot tell how
    many rows `name ILIKE '%duct 777%'` matches (pg_trgm guesses; a generic plan guesses blind),
    and would walk the sort's index testing every row, a scan of the table when the text is rare.
    Other filters sort up to `SORTED_MATCHES`, where the sort costs less than a second scan. None
    for a list without a filter from its query, or sorted on another table's column.
    """
    if not params.filters:
        return None
    if not all(isinstance(k.expression, Column) and k.expression.table is t.table for k in keys):
        return None
    bound = known_integer(shape.threshold, "count_threshold", 1)
    values = (k.expression.label(f"s{i}") for i, k in enumerate(keys))
    matched = select(t.pk.label("key"), *values).where(*conditions).limit(bound).cte("matched")
    counted = select(func.count().label("n")).select_from(matched).cte("counted")
    n = select(counted.c.n).scalar_subquery()
    threshold = known_integer(shape.threshold, "count_threshold")
    if not any(f.operator.costly for f in params.filters):
        if shape.threshold is None:
            threshold = func.least(threshold, SORTED_MATCHES)
        else:
            threshold = known_integer(min(shape.threshold, SORTED_MATCHES), "count_threshold")
    return _Matches(matched, counted, n <= threshold)


def _fetched(
    t: Target,
    params: ListParams,
    keys: Sequence[SortKey],
    seek: Sequence[ColumnElement[bool]],
    shape: PageShape,
    matches: _Matches | None,
) -> CTE:
    """`fetched`: the page and one row more, read with `seek`, or out of a filter's bounded matches."""
    backward = shape.backward
    skip = bindparam("skip", type_=Integer)
    more = known_integer(shape.limit, "limit", 1)

    def skipped(found: Select[Any]) -> Select[Any]:
        return found.offset(skip) if shape.offset else found

    def read(*where: ColumnElement[bool], offset: bool = True, rows: Any = None) -> Select[Any]:
        found = (
            select(t.table, *sort_columns(t.spec, params))
            .where(*where)
            .order_by(*(key.ordered(backward=backward) for key in keys))
            .limit(more if rows is None else rows)
        )
        return skipped(found) if offset else found

    if matches is None:
        return read(*seek).cte("fetched")
    # PostgreSQL runs one branch: the other's condition on the count is false from the start
    matched = matches.matched
    first = skipped(
        select(matched.c.key).order_by(*(key.ordered(matched.c[f"s{i}"]) for i, key in enumerate(keys)))
    ).limit(more)
    few = read(t.pk.in_(first), matches.few, offset=False)
    # LIMIT 0 as well: a parallel plan's workers would start below the condition, never below it
    many = read(*seek, ~matches.few, rows=case((~matches.few, more), else_=0))
    return union_all(few.subquery("few").select(), many.subquery("many").select()).cte("fetched")


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
    bounded = shape.count == "estimated" and envelope.total is not None and shape.seek is None
    matches = _bounded_matches(t, params, conditions, keys, shape) if bounded else None
    fetched = _fetched(t, params, keys, seek, shape, matches)
    page = (
        select(fetched)
        .order_by(*(key.ordered(fetched.c[key.label], backward=backward) for key in keys))
        .limit(known_integer(shape.limit, "limit"))
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
        counted = matches.counted if matches is not None else None
        estimator = shape.estimator
        total, kind = total_columns(
            shape.count, table, conditions, estimator=estimator, counted=counted, threshold=shape.threshold
        )
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
