"""The hand-written floor: Starlette + an asyncpg pool + hand-written SQL, nothing generated.

It answers the benchmark's five requests with exactly the bytes pgbe sends (the harness checks this
before measuring), doing the least work that is still correct: parameters checked, the bearer token
verified (signature, expiry, type, role), bodies validated as strictly as `ProductCreate` /
`ProductUpdate`, one SQL statement per request, JSON built by PostgreSQL and passed through.
Run by the harness as `uvicorn bench.floor:app --workers 2`.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import jwt
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

INT4_MAX = 2**31 - 1
PROBLEM = "application/problem+json"


def ts(column: str) -> str:
    """A timestamptz as pydantic writes it: UTC, `Z`, microseconds only when there are some."""
    utc = f"timezone('UTC', {column})"
    return (
        f"to_char({utc}, CASE WHEN date_trunc('second', {utc}) = {utc} "
        """THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)"""
    )


def category_json(c: str) -> str:
    """json_build_object of a category row aliased `c`."""
    return (
        f"json_build_object('id', {c}.id, 'name', {c}.name, 'description', {c}.description, "
        f"'version', {c}.version, 'created_at', {ts(c + '.created_at')}, "
        f"'updated_at', {ts(c + '.updated_at')})"
    )


def tag_json(t: str) -> str:
    """json_build_object of a tag row aliased `t`."""
    return (
        f"json_build_object('id', {t}.id, 'name', {t}.name, 'version', {t}.version, "
        f"'created_at', {ts(t + '.created_at')}, 'updated_at', {ts(t + '.updated_at')})"
    )


def product_json(p: str, category: str = "NULL", tags: str = "NULL") -> str:
    """json_build_object of a product row aliased `p` with the given category and tags JSON."""
    return (
        f"json_build_object('id', {p}.id, 'name', {p}.name, 'description', {p}.description, "
        f"'price', {p}.price, 'sku', {p}.sku, 'category_id', {p}.category_id, 'version', {p}.version, "
        f"'created_at', {ts(p + '.created_at')}, 'updated_at', {ts(p + '.updated_at')}, "
        f"'category', {category}, 'tags', {tags})"
    )


E1_CATEGORY = f"(SELECT {category_json('c')} FROM categories c WHERE c.id = p.category_id)"
E1_SQL = f"SELECT {product_json('p', E1_CATEGORY)}, p.version FROM products p WHERE p.id = $1"

# The page's tags are aggregated in one pass over product_tags for the page's ids (a join and a
# GROUP BY), not in one subquery per product.
E2_SQL = f"""
WITH page AS (SELECT * FROM products ORDER BY id LIMIT $2 OFFSET $1),
counted AS (SELECT count(*) AS n FROM products),
page_tags AS (
    SELECT pt.product_id, json_agg({tag_json("t")} ORDER BY t.id) AS tags
    FROM product_tags pt JOIN tags t ON t.id = pt.tag_id
    WHERE pt.product_id IN (SELECT id FROM page)
    GROUP BY pt.product_id
)
SELECT json_build_object(
    'items', coalesce((
        SELECT json_agg({
    product_json(
        "p",
        f"CASE WHEN c.id IS NULL THEN NULL ELSE {category_json('c')} END",
        "coalesce(pt.tags, '[]'::json)",
    )
} ORDER BY p.id)
        FROM page p
        LEFT JOIN categories c ON c.id = p.category_id
        LEFT JOIN page_tags pt ON pt.product_id = p.id
    ), '[]'::json),
    'total', (SELECT n FROM counted), 'total_kind', 'exact',
    'skip', $1, 'limit', $2,
    'next', CASE WHEN $1 + $2 < (SELECT n FROM counted) THEN 'floor-next' END,
    'prev', CASE WHEN $1 > 0 THEN 'floor-prev' END)
"""

E4_SQL = f"""
WITH matching AS (
    SELECT p.* FROM products p JOIN categories c ON c.id = p.category_id
    WHERE p.price >= $1 AND p.price < $2 AND c.name = $3
),
page AS (SELECT * FROM matching ORDER BY price DESC, name, id LIMIT $5 OFFSET $4),
counted AS (SELECT count(*) AS n FROM matching)
SELECT json_build_object(
    'items', coalesce((SELECT json_agg({product_json("p")} ORDER BY p.price DESC, p.name, p.id) FROM page p),
                      '[]'::json),
    'total', (SELECT n FROM counted), 'total_kind', 'exact',
    'skip', $4, 'limit', $5,
    'next', CASE WHEN $4 + $5 < (SELECT n FROM counted) THEN 'floor-next' END,
    'prev', CASE WHEN $4 > 0 THEN 'floor-prev' END)
"""

E3_SQL = f"""
WITH row AS (
    INSERT INTO products (name, description, price, sku, category_id) VALUES ($1, $2, $3, $4, $5)
    RETURNING *
), links AS (
    INSERT INTO product_tags (product_id, tag_id) SELECT DISTINCT row.id, unnest($6::int[]) FROM row
)
SELECT {product_json("row")}, row.id, row.version FROM row
"""

E5_SQL = f"""
UPDATE products p SET price = coalesce($2, p.price), updated_at = now(), version = p.version + 1
WHERE p.id = $1
RETURNING {product_json("p")}, p.version
"""


def problem(status: int, title: str, detail: str) -> Response:
    """An RFC 9457 problem response."""
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    return Response(body, status, media_type=PROBLEM)


class Unauthorized(Exception):
    """The request carries no valid access token of a catalogue writer."""


_tokens: dict[str, float] = {}
_SECRET = os.environ.get("SECRET_KEY", "")


def require_staff(request: Request) -> None:
    """Verify the bearer token (cached until it expires) and that it belongs to staff or an admin."""
    header = request.headers.get("authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else ""
    expires = _tokens.get(token)
    if expires is not None and time.time() < expires:
        return
    try:
        claims = jwt.decode(token, _SECRET, algorithms=["HS256"], options={"require": ["exp", "sub", "typ"]})
    except jwt.InvalidTokenError as exc:
        raise Unauthorized from exc
    if claims.get("typ") != "access" or claims.get("role") not in ("staff", "admin"):
        raise Unauthorized
    if len(_tokens) > 4096:
        _tokens.clear()
    _tokens[token] = float(claims["exp"])


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool = False, minimum: int = 0) -> Any:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not minimum <= len(value) <= limit or "\x00" in value:
        raise ValueError(key)
    return value


def _int(data: dict[str, Any], key: str, low: int, *, required: bool = False) -> Any:
    value = data.get(key)
    if value is None and not required:
        return None
    if type(value) is not int or not low <= value <= INT4_MAX:
        raise ValueError(key)
    return value


PRODUCT_FIELDS = frozenset({"name", "description", "price", "sku", "category_id", "tag_ids"})


def product_body(raw: bytes, *, partial: bool) -> dict[str, Any]:
    """Validate a product body like ProductCreate / ProductUpdate; ValueError names the bad field."""
    data = orjson.loads(raw)
    if not isinstance(data, dict) or data.keys() - PRODUCT_FIELDS:
        raise ValueError("body")
    tag_ids = data.get("tag_ids")
    if tag_ids is not None and (
        not isinstance(tag_ids, list)
        or len(tag_ids) > 100
        or any(type(i) is not int or not 1 <= i <= INT4_MAX for i in tag_ids)
    ):
        raise ValueError("tag_ids")
    return {
        "name": _text(data, "name", 100, required=not partial, minimum=1),
        "description": _text(data, "description", 500),
        "price": _int(data, "price", 0, required=not partial),
        "sku": _text(data, "sku", 100),
        "category_id": _int(data, "category_id", 1),
        "tag_ids": tag_ids,
    }


def _json(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body.encode(), status, headers=headers, media_type="application/json")


def _id(request: Request) -> int | None:
    raw = request.path_params["id"]
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= INT4_MAX else None


async def get_product(request: Request) -> Response:
    """E1: one product with its category."""
    product_id = _id(request)
    if product_id is None or request.query_params.get("include") != "category":
        return problem(422, "Unprocessable Content", "bad id or include")
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(E1_SQL, product_id)
    if row is None:
        return problem(404, "Not Found", "Product not found")
    return _json(row[0], headers={"ETag": f'"{row[1]}"'})


def _page(request: Request) -> tuple[int, int]:
    skip = int(request.query_params.get("skip", "0"))
    limit = int(request.query_params.get("limit", "50"))
    if not 0 <= skip <= INT4_MAX or not 0 <= limit <= 500:
        raise ValueError("page")
    return skip, limit


async def list_products(request: Request) -> Response:
    """E2 (include=category,tags) and E4 (price range, category name, sort=-price,name)."""
    q = request.query_params
    try:
        skip, limit = _page(request)
        async with request.app.state.pool.acquire() as conn:
            if "category.name" in q:
                if q.get("sort") != "-price,name":
                    raise ValueError("sort")
                low, high = int(q["price__gte"]), int(q["price__lt"])
                body = await conn.fetchval(E4_SQL, low, high, q["category.name"], skip, limit)
            else:
                if q.get("include") != "category,tags":
                    raise ValueError("include")
                body = await conn.fetchval(E2_SQL, skip, limit)
    except (ValueError, KeyError):
        return problem(422, "Unprocessable Content", "bad query parameters")
    return _json(body)


async def create_product(request: Request) -> Response:
    """E3: insert a product and its tag links, return it with 201 and Location."""
    try:
        require_staff(request)
    except Unauthorized:
        return problem(401, "Unauthorized", "Not authenticated")
    try:
        v = product_body(await request.body(), partial=False)
    except (ValueError, orjson.JSONDecodeError) as exc:
        return problem(422, "Unprocessable Content", f"invalid {exc}")
    args = (v["name"], v["description"], v["price"], v["sku"], v["category_id"], v["tag_ids"] or [])
    try:
        async with request.app.state.pool.acquire() as conn:
            body, new_id, version = await conn.fetchrow(E3_SQL, *args)
    except asyncpg.ForeignKeyViolationError:
        return problem(409, "Conflict", "category_id or tag_ids refers to a missing row")
    return _json(body, 201, {"Location": f"/products/{new_id}", "ETag": f'"{version}"'})


async def update_product(request: Request) -> Response:
    """E5: change a product's price."""
    try:
        require_staff(request)
    except Unauthorized:
        return problem(401, "Unauthorized", "Not authenticated")
    product_id = _id(request)
    try:
        v = product_body(await request.body(), partial=True)
    except (ValueError, orjson.JSONDecodeError) as exc:
        return problem(422, "Unprocessable Content", f"invalid {exc}")
    if product_id is None or {k for k, x in v.items() if x is not None} - {"price"}:
        return problem(422, "Unprocessable Content", "the floor only patches price")
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(E5_SQL, product_id, v["price"])
    if row is None:
        return problem(404, "Not Found", "Product not found")
    return _json(row[0], headers={"ETag": f'"{row[1]}"'})


async def health(_: Request) -> Response:
    """Liveness for the harness."""
    return Response(b"ok")


async def _skip_reset(_: asyncpg.Connection) -> None:
    """Release without the reset query: this code leaves no session state behind."""


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Open the pool (same size and session settings as pgbe's) and close it on shutdown."""
    size = int(os.environ.get("BENCH_FLOOR_POOL_SIZE", "16"))
    app.state.pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"],
        min_size=1,
        max_size=size,
        reset=_skip_reset,  # as pgbe's pool does (pgbe.database.release_without_reset)
        server_settings={"statement_timeout": "15000", "application_name": "pgbe-bench-floor"},
    )
    yield
    await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/products", list_products, methods=["GET"]),
        Route("/products", create_product, methods=["POST"]),
        Route("/products/{id}", get_product, methods=["GET"]),
        Route("/products/{id}", update_product, methods=["PATCH"]),
    ],
    lifespan=lifespan,
)
