"""CORS and compression from settings, on generated routes (fast lane) as on hand-written ones."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

import app.main as app_main
from app.config.database import database
from app.config.settings import Settings
from pgbe.stack import http_middleware
from pgbe.testing.api import ApiClient, rolled_back_client

ORIGIN = "https://shop.example"


def _wrapped(**settings: Any) -> Any:
    """The example application behind pgbe's operations middleware, configured by `settings`."""
    app: Any = app_main.app
    for middleware in reversed(http_middleware(Settings(**settings), database)):
        app = middleware.cls(app, *middleware.args, **middleware.kwargs)
    return app


@pytest.fixture
async def api_ops() -> AsyncIterator[ApiClient]:
    app = _wrapped(cors_origins=[ORIGIN], gzip_min_bytes=1024, metrics_enabled=False)
    async with rolled_back_client(app, database) as client:
        for i in range(40):
            await client.conn.execute(
                "INSERT INTO products (name, price, description) VALUES ($1, $2, $3)",
                f"Product {i}",
                100 + i,
                "a fairly long description of the product " * 3,
            )
        yield client


async def test_preflight_for_generated_route_allows_origin_methods_and_if_match(api_ops: ApiClient) -> None:
    response = await api_ops.options(
        "/products/1",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "if-match, content-type, authorization",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert "if-match" in response.headers["access-control-allow-headers"].lower()
    assert response.headers["access-control-max-age"] == "600"


async def test_cross_origin_get_of_generated_route_exposes_etag(api_ops: ApiClient) -> None:
    product = await api_ops.conn.fetchval("SELECT min(id) FROM products")

    response = await api_ops.get(f"/products/{product}", headers={"Origin": ORIGIN})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    exposed = response.headers["access-control-expose-headers"]
    assert "ETag" in exposed
    assert "X-Request-ID" in exposed


async def test_other_origin_gets_no_cors_headers(api_ops: ApiClient) -> None:
    response = await api_ops.get("/products?limit=1", headers={"Origin": "https://evil.example"})
    preflight = await api_ops.options(
        "/products", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert preflight.status_code == 400


async def test_large_list_compressed_when_accepted_same_json(api_ops: ApiClient) -> None:
    plain = await api_ops.get("/products?limit=40", headers={"Accept-Encoding": "identity"})
    compressed = await api_ops.get("/products?limit=40", headers={"Accept-Encoding": "gzip"})

    assert plain.status_code == compressed.status_code == 200
    assert "content-encoding" not in plain.headers
    assert compressed.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in compressed.headers["vary"]
    assert int(compressed.headers["content-length"]) < len(plain.content) / 3
    assert orjson.loads(compressed.content) == orjson.loads(plain.content)  # httpx decoded it
    assert len(plain.content) > 1024


async def test_small_response_not_compressed(api_ops: ApiClient) -> None:
    response = await api_ops.get("/products?limit=1", headers={"Accept-Encoding": "gzip"})

    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) < 1024


async def test_hand_written_route_compressed_too(api_ops: ApiClient) -> None:
    response = await api_ops.get("/openapi.json", headers={"Accept-Encoding": "gzip"})

    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(await _raw(api_ops, "/openapi.json"))[:1] == b"{"


async def _raw(client: ApiClient, path: str) -> bytes:
    async with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as response:
        return b"".join([chunk async for chunk in response.aiter_raw()])


async def test_cors_off_by_default() -> None:
    stack = [m.cls.__name__ for m in http_middleware(Settings(), database)]

    assert "CORSMiddleware" not in stack
    assert stack[0] == "ObservabilityMiddleware"
