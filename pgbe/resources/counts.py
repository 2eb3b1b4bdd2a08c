"""How a list's total is counted: exactly, by the planner's estimate, either by size, or not at all.

`exact` counts every matching row (what lists always did; its cost grows with the matches);
`planned` asks the planner how many rows it expects (`pg_class.reltuples` without a condition, else
the row estimate of `EXPLAIN` through `pgbe_count_estimate`); `estimated` counts exactly up to a
threshold and gives the planner's estimate above it, so its cost is bounded; `none` counts nothing.
Each is part of the list's one statement; the statement also says which kind of number it carries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, get_args

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.sql.elements import BindParameter

from pgbe.query.params import query_error
from pgbe.resources.statements import known_integer

CountStrategy = Literal["exact", "planned", "estimated", "none"]
STRATEGIES: tuple[str, ...] = get_args(CountStrategy)
FUNCTION = "pgbe_count_estimate"

# The planner's estimate of the rows a SELECT returns, read from EXPLAIN (FORMAT JSON). It plans the
# query and runs nothing. The caller builds `query` with every value quoted (`format('%L', ...)`).
CREATE_COUNT_ESTIMATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(query text) RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL SAFE AS $$
DECLARE
    plan jsonb;
BEGIN
    IF query !~* '^\\s*select\\s' THEN
        RAISE EXCEPTION '{FUNCTION}: only a SELECT can be estimated';
    END IF;
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::numeric::bigint;
END
$$
"""
DROP_COUNT_ESTIMATE = f"DROP FUNCTION IF EXISTS {FUNCTION}(text)"

_PLACEHOLDER = re.compile(r"\$(\d+)")
MAX_FORMAT_ARGS = 99  # a function takes at most 100 arguments: format's template and 99 values
_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


def count_strategy(raw: str, name: str) -> CountStrategy:
    """Parse a count strategy (a query parameter or a `Prefer: count=` value); 422 otherwise."""
    if raw not in STRATEGIES:
        raise query_error(name, f"must be one of {', '.join(STRATEGIES)}")
    return raw  # type: ignore[return-value]


def preferred_count(header: str | None) -> CountStrategy | None:
    """The `count=` preference of a `Prefer` header (RFC 7240), if it names a strategy."""
    if not header:
        return None
    for preference in header.split(","):
        token, _, value = preference.partition(";")[0].strip().partition("=")
        if token.strip().lower() == "count":
            value = value.strip().strip('"').lower()
            return value if value in STRATEGIES else None  # type: ignore[return-value]
    return None


def _estimate(stmt: Any) -> ColumnElement[Any]:
    """`pgbe_count_estimate(format('SELECT ... %1$L ...', $f0::text, ...))`: the plan of `stmt`.

    The request's values are quoted into the text by `format`, so the planner estimates with them
    as it does for the page itself.
    """
    compiled: Any = stmt.compile(dialect=_DIALECT)
    names: Sequence[str] = tuple(compiled.positiontup or ())
    template = _PLACEHOLDER.sub(lambda m: f"%{m.group(1)}$L", compiled.string.replace("%", "%%"))
    args: list[ColumnElement[Any]] = []
    for name in names:
        bind: BindParameter[Any] = compiled.binds[name]
        if bind.unique:  # a literal of the query itself: the outer statement carries it too
            args.append(cast(literal(bind.value, bind.type), Text))
        else:
            args.append(cast(bindparam(bind.key, type_=bind.type), Text))
    sql = bindparam("count_sql", template, type_=Text, unique=True)
    return func.coalesce(getattr(func, FUNCTION)(func.format(sql, *args)), 0)


def _bind_count(stmt: Any) -> int:
    return len(stmt.compile(dialect=_DIALECT).positiontup or ())


def _reltuples(table: Any) -> ColumnElement[Any]:
    """The planner's row count of `table`: `pg_class.reltuples`, -1 when never analyzed."""
    name = _DIALECT.identifier_preparer.format_table(table).replace("'", "''")
    # the name is the table's own, quoted by the dialect: no value of a request reaches this text
    sql = f"(SELECT reltuples FROM pg_catalog.pg_class WHERE oid = '{name}'::regclass)"  # noqa: S608
    return literal_column(sql)


def _planned(
    table: Any, matching: Any, exact: ColumnElement[Any], *, filtered: bool, estimator: bool
) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The planner's estimate and its kind; the exact count (kind `exact`) where there is none."""
    if filtered:
        if not estimator or _bind_count(matching) > MAX_FORMAT_ARGS:
            return exact, literal("exact")
        return _estimate(matching), literal("planned")
    rows = _reltuples(table)
    known = rows >= 0  # a table never analyzed is young: its exact count is cheap
    return (
        case((known, cast(func.round(rows), BigInteger)), else_=exact),
        case((known, literal("planned")), else_=literal("exact")),
    )


def total_columns(
    strategy: CountStrategy,
    table: Any,
    conditions: Sequence[ColumnElement[bool]],
    *,
    estimator: bool,
    counted: Any = None,
    threshold: int | None = None,
) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The total of a list and the kind of number it is (`exact`, `planned`; NULL for `none`).

    `estimator` tells whether the database has `pgbe_count_estimate`; without it a filtered
    planned count is exact, and says so. `counted`: the bounded count (a CTE with a column `n`) of
    an estimated total, when the statement has one already (`read_sql.select_page`'s bounded matches);
    `threshold`: the estimated count's threshold written into the text (None: the `count_threshold`
    parameter), which lets the planner price the bounded count's LIMIT.
    """
    if strategy == "none":
        return null(), null()
    matching: Select[Any] = select(literal_column("1")).select_from(table).where(*conditions)
    exact = select(func.count()).select_from(matching.subquery("matching")).scalar_subquery()
    if strategy == "exact":
        return exact, literal("exact")
    planned, kind = _planned(table, matching, exact, filtered=bool(conditions), estimator=estimator)
    if strategy == "planned":
        return planned, kind
    # estimated: count at most threshold + 1 rows; above the threshold, the planner's estimate
    if counted is None:
        most = known_integer(threshold, "count_threshold", 1)
        counted = (
            select(func.count().label("n"))
            .select_from(matching.limit(most).subquery("bounded"))
            .cte("counted")
        )
    bounded = select(counted.c.n).scalar_subquery()
    above = bounded > known_integer(threshold, "count_threshold")
    return (
        case((above, func.greatest(planned, bounded)), else_=bounded),
        case((above, kind), else_=literal("exact")),
    )


__all__ = [
    "CREATE_COUNT_ESTIMATE",
    "DROP_COUNT_ESTIMATE",
    "FUNCTION",
    "STRATEGIES",
    "CountStrategy",
    "count_strategy",
    "preferred_count",
    "total_columns",
]
