"""The floor of the scale cases: Starlette + asyncpg + the SQL a careful engineer writes by hand.

It answers the list requests of `bench.scale` with pgbe's JSON (checked before measuring; only the
cursor texts differ: it writes placeholders where pgbe signs its own): one statement each, JSON built
by PostgreSQL, the same work pgbe does (the same counts, ORDER BY with id breaking ties, the cursor's
keyset condition), so the comparison shows pgbe's overhead and the 10k / 1M columns what the data's
size costs either way. It reads a pgbe cursor's values without checking its signature.
Run by `python -m bench.scale` as `uvicorn bench.scale_floor:app`.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.floor import health, problem, product_json

# ORDER BY of each allowed sort, as pgbe writes it (id breaks ties), and the condition of the rows
# after a cursor's (keyset pagination: an index on the sort column seeks to it).
ORDERS = {"": "id", "-price": "price DESC, id", "price": "price, id"}
AFTER = {
    "": "id > {0}",
    "-price": "price <= {0} AND (price < {0} OR (price = {0} AND id > {1}))",
    "price": "price >= {0} AND (price > {0} OR (price = {0} AND id > {1}))",
}
COUNTS = ("exact", "planned", "estimated", "none")
THRESHOLD = 10_000  # pgbe's PAGE_COUNT_THRESHOLD: `estimated` counts at most this + 1 rows
PLANNED = "(SELECT round(reltuples)::bigint FROM pg_class WHERE oid = 'products'::regclass)"
_MAC_BYTES = 16


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def cursor_values(raw: str) -> list[int]:
    """The sort values (integers here) of the row a pgbe cursor starts after; its signature is not checked."""
    token = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    values, backward = json.loads(token[:-_MAC_BYTES])
    if backward:
        raise ValueError("cursor")
    return [int(v) for v in values]


def _total(count: str, where: str) -> tuple[str, str, str]:
    """(a CTE, the total, its kind) of one count strategy, counted as pgbe counts."""
    if count == "none":
        return "", "NULL", "NULL"
    if count == "exact":
        return "", f"(SELECT count(*) FROM products {where})", "'exact'"
    if count == "planned":  # unfiltered: the planner's row count of the table
        return "", PLANNED, "'planned'"
    bounded = (
        f"counted AS (SELECT count(*) AS n FROM (SELECT 1 FROM products {where} LIMIT {THRESHOLD + 1}) b),"
    )
    # above the threshold a filtered estimate is EXPLAIN's (pgbe_count_estimate): no case needs it
    planned = "NULL" if where else PLANNED
    total = f"(SELECT CASE WHEN n > {THRESHOLD} THEN greatest({planned}, n) ELSE n END FROM counted)"
    kind = f"(SELECT CASE WHEN n > {THRESHOLD} THEN 'planned' ELSE 'exact' END FROM counted)"
    return bounded, total, kind


def page_sql(q: dict[str, str], args: list[object]) -> str:
    """A page, its total and whether it has neighbours, in pgbe's envelope; `args` get the values."""

    def param(value: object, cast: str) -> str:
        args.append(value)
        return f"${len(args)}::{cast}"

    skip, limit = param(int(q.get("skip", "0")), "int"), param(int(q.get("limit", "50")), "int")
    sort, count = q.get("sort", ""), q.get("count", "estimated")
    if sort not in ORDERS or count not in COUNTS:
        raise ValueError("sort or count")
    order, filters, seek = ORDERS[sort], [], ""
    if "name__icontains" in q:
        if len(q["name__icontains"]) > 100:
            raise ValueError("name__icontains")
        pattern = param(f"%{_escape_like(q['name__icontains'])}%", "text")
        filters.append(f"name ILIKE {pattern} ESCAPE '\\'")
    where = f"WHERE {filters[0]}" if filters else ""
    if "cursor" in q:
        values = cursor_values(q["cursor"])
        seek = AFTER[sort].format(*[param(v, "int") for v in values])
    conditions = " AND ".join([*filters, *([seek] if seek else [])])
    counted, total, kind = _total(count, where)
    return f"""
    WITH {counted} fetched AS (
        SELECT * FROM products {"WHERE " + conditions if conditions else ""}
        ORDER BY {order} LIMIT {limit} + 1 OFFSET {skip}
    ), page AS (SELECT * FROM fetched ORDER BY {order} LIMIT {limit})
    SELECT json_build_object(
        'items', coalesce((SELECT json_agg({product_json("p")} ORDER BY {order}) FROM page p), '[]'::json),
        'total', {total}, 'total_kind', {kind}, 'skip', {skip}, 'limit', {limit},
        'next', CASE WHEN (SELECT count(*) FROM fetched) > {limit} THEN 'floor-next' END,
        'prev', {"'floor-prev'" if seek else "NULL"})
    """


async def list_products(request: Request) -> Response:
    """`limit`, `skip`, `sort` (id, price, -price), `name__icontains`, `cursor` and `count`."""
    args: list[object] = []
    try:
        sql = page_sql(dict(request.query_params), args)
    except (ValueError, KeyError):
        return problem(422, "Unprocessable Content", "bad query parameters")
    async with request.app.state.pool.acquire() as conn:
        body = await conn.fetchval(sql, *args)
    return Response(body.encode(), media_type="application/json")


async def _skip_reset(_: asyncpg.Connection) -> None:
    """Release without the reset query: this code leaves no session state behind."""


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Open the pool (pgbe's size and session settings) and close it on shutdown."""
    app.state.pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"],
        min_size=1,
        max_size=int(os.environ.get("BENCH_FLOOR_POOL_SIZE", "16")),
        reset=_skip_reset,
        server_settings={"statement_timeout": "15000", "application_name": "pgbe-bench-scale-floor"},
    )
    yield
    await app.state.pool.close()


app = Starlette(
    routes=[Route("/health", health), Route("/products", list_products, methods=["GET"])],
    lifespan=lifespan,
)
