"""The floor of the scale cases: Starlette + asyncpg + the SQL a careful engineer writes by hand.

It answers the list requests of `bench.scale` with the bytes pgbe sends (checked before measuring):
one statement each, JSON built by PostgreSQL. The page and its total are the same work pgbe does
(the same count, the same ORDER BY with id breaking ties), so the comparison shows pgbe's overhead,
and the 10k / 1M columns show what the data's size costs either way.
Run by `python -m bench.scale` as `uvicorn bench.scale_floor:app`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.floor import health, problem, product_json

# ORDER BY of each allowed sort, as pgbe writes it: the column, then id (ascending) for ties.
ORDERS = {"": "id", "-price": "price DESC, id", "price": "price, id"}


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def page_sql(order: str, *, search: bool) -> str:
    """A page of products and the total of the matching rows, in pgbe's envelope."""
    where = "WHERE name ILIKE $3 ESCAPE '\\'" if search else ""
    return f"""
    WITH page AS (SELECT * FROM products {where} ORDER BY {order} LIMIT $2 OFFSET $1)
    SELECT json_build_object(
        'items', coalesce((SELECT json_agg({product_json("p")} ORDER BY {order}) FROM page p), '[]'::json),
        'total', (SELECT count(*) FROM products {where}),
        'skip', $1, 'limit', $2)
    """


async def list_products(request: Request) -> Response:
    """`limit`, `skip`, `sort` (id, price, -price) and `name__icontains`."""
    q = request.query_params
    try:
        skip, limit = int(q.get("skip", "0")), int(q.get("limit", "50"))
        order = ORDERS[q.get("sort", "")]
        if not 0 <= skip <= 2**31 - 1 or not 0 <= limit <= 500:
            raise ValueError("page")
        search = q.get("name__icontains")
        if search is not None and len(search) > 100:
            raise ValueError("name__icontains")
    except (ValueError, KeyError):
        return problem(422, "Unprocessable Content", "bad query parameters")
    args: list[object] = [skip, limit]
    if search is not None:
        args.append(f"%{_escape_like(search)}%")
    async with request.app.state.pool.acquire() as conn:
        body = await conn.fetchval(page_sql(order, search=search is not None), *args)
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
