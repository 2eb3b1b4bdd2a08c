"""Request ids and the access log: one line per request, generated routes (fast lane) included."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import orjson
import pytest

import app.main as app_main
from pgbe.observability import sql
from pgbe.observability.logs import make_handler
from pgbe.testing.api import ApiClient

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    """The JSON lines pgbe's handler writes for pgbe.access and pgbe.sql during the test."""
    stream = io.StringIO()
    handler = make_handler("json", stream)
    loggers = [logging.getLogger("pgbe.access"), logging.getLogger("pgbe.sql")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield stream
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@pytest.fixture
async def pooled() -> AsyncIterator[httpx.AsyncClient]:
    """A client on the application with its real pools (the statements counted are the request's)."""
    transport = httpx.ASGITransport(app=app_main.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _lines(stream: io.StringIO, logger: str = "pgbe.access") -> list[dict[str, object]]:
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["logger"] == logger]


async def test_get_generated_route_logs_one_json_line_with_route_template(
    pooled: httpx.AsyncClient, access_lines: io.StringIO
) -> None:
    response = await pooled.get("/products/2147483000?include=category")

    assert response.status_code == 404
    [line] = _lines(access_lines)
    assert line["method"] == "GET"
    assert line["route"] == "/products/{id}"
    assert line["path"] == "/products/2147483000"
    assert line["status"] == 404
    assert line["sql_count"] == 1
    assert isinstance(line["sql_ms"], float)
    assert line["sql_ms"] > 0
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= line["sql_ms"]
    assert line["user_id"] is None
    assert line["level"] == "INFO"
    assert line["message"] == "GET /products/2147483000 404"
    assert HEX_ID.fullmatch(str(line["request_id"]))
    assert response.headers["x-request-id"] == line["request_id"]
    assert response.json()["request_id"] == line["request_id"]


async def test_request_with_well_formed_request_id_echoes_it(
    api: ApiClient, access_lines: io.StringIO
) -> None:
    response = await api.get("/products", headers={"X-Request-ID": "client-7f3a.1"})

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "client-7f3a.1"
    assert _lines(access_lines)[0]["request_id"] == "client-7f3a.1"
    assert _lines(access_lines)[0]["route"] == "/products"


@pytest.mark.parametrize("sent", ["has spaces", "x" * 129, 'quote"d', ""])
async def test_request_with_malformed_request_id_gets_a_new_one(api: ApiClient, sent: str) -> None:
    response = await api.get("/health/live", headers={"X-Request-ID": sent})

    assert HEX_ID.fullmatch(response.headers["x-request-id"])
    assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]


async def test_signed_in_request_logs_user_id(
    api: ApiClient, access_lines: io.StringIO, bearer: Callable[[int, str], dict[str, str]]
) -> None:
    response = await api.get("/products?limit=1", headers=bearer(42, "staff"))

    assert response.status_code == 200
    assert _lines(access_lines)[0]["user_id"] == 42


async def test_hand_written_sync_route_counts_sqlalchemy_statements(
    api: ApiClient, access_lines: io.StringIO
) -> None:
    response = await api.get("/items/")

    assert response.status_code == 200
    [line] = _lines(access_lines)
    assert line["route"] == "/items/"
    assert isinstance(line["sql_count"], int)
    assert line["sql_count"] >= 1


async def test_unmatched_path_logs_no_route(api: ApiClient, access_lines: io.StringIO) -> None:
    response = await api.get("/no/such/thing")

    assert response.status_code == 404
    assert _lines(access_lines)[0]["route"] is None


async def test_slow_statement_logged_with_request_id(
    pooled: httpx.AsyncClient, access_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql.SlowStatements, "threshold", 0.0)

    response = await pooled.get("/products/1", headers={"X-Request-ID": "slow-1"})

    [slow] = _lines(access_lines, "pgbe.sql")
    assert slow["message"] == "slow statement"
    assert slow["request_id"] == "slow-1"
    assert slow["level"] == "WARNING"
    assert "SELECT" in str(slow["sql"])
    assert response.headers["x-request-id"] == "slow-1"


async def test_body_refused_by_limit_has_request_id_in_problem(api: ApiClient) -> None:
    response = await api.post(
        "/products",
        content=b"x" * 2_000_000,
        headers={"Content-Type": "application/json", "X-Request-ID": "big-1"},
    )

    assert response.status_code == 413
    assert response.json()["request_id"] == "big-1"
    assert response.headers["x-request-id"] == "big-1"
