"""Body size limit (413) and receive deadline (408) of BodyLimitMiddleware, on a small FastAPI app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from pgbe.http.disconnect import CancelOnDisconnectMiddleware
from pgbe.http.limits import BodyLimitMiddleware
from pgbe.http.problems import install_problem_handlers

LIMIT = 1000


def make_app(*, body_timeout: float = 5.0) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=LIMIT, body_timeout=body_timeout)
    app.add_middleware(CancelOnDisconnectMiddleware)

    @app.post("/json")
    async def post_json(payload: dict[str, Any]) -> dict[str, int]:
        return {"keys": len(payload)}

    @app.post("/raw")
    async def post_raw(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


class Chunks:
    """A chunked request body that records how much of itself was pulled."""

    def __init__(self, count: int, size: int, *, pause: float = 0.0) -> None:
        self.count, self.size, self.pause = count, size, pause
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            if self.pause:
                await asyncio.sleep(self.pause)
            self.sent += 1
            yield b"x" * self.size


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert response.headers["connection"] == "close"


async def test_body_limit_declared_length_over_limit_returns_413_without_reading() -> None:
    calls: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        calls.append("app")

    async def receive() -> dict[str, Any]:
        calls.append("receive")
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"5000")]}
    await BodyLimitMiddleware(inner, max_body_bytes=LIMIT, body_timeout=5)(scope, receive, send)
    assert calls == []
    assert sent[0]["status"] == 413


async def test_body_limit_json_over_limit_returns_413_problem() -> None:
    async with client(make_app()) as http:
        response = await http.post("/json", content=b'{"a": "' + b"x" * 2000 + b'"}')
    assert_problem(response, 413)
    assert "1000 bytes" in response.json()["detail"]


async def test_body_limit_chunked_over_limit_returns_413_and_stops_reading() -> None:
    body = Chunks(100, 300)
    async with client(make_app()) as http:
        response = await http.post("/raw", content=body)
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert body.sent < body.count


async def test_body_limit_chunked_json_over_limit_returns_413() -> None:
    async with client(make_app()) as http:
        response = await http.post(
            "/json", content=Chunks(10, 200), headers={"content-type": "application/json"}
        )
    assert_problem(response, 413)


async def test_body_limit_chunked_under_limit_is_read_whole() -> None:
    async with client(make_app()) as http:
        response = await http.post("/raw", content=Chunks(5, 200))
    assert response.status_code == 200
    assert response.json() == {"size": 1000}


async def test_body_limit_exact_limit_is_accepted() -> None:
    async with client(make_app()) as http:
        response = await http.post("/raw", content=b"y" * LIMIT)
    assert response.status_code == 200
    assert response.json() == {"size": LIMIT}


async def test_body_deadline_trickling_body_returns_408() -> None:
    body = Chunks(50, 1, pause=0.05)
    async with client(make_app(body_timeout=0.3)) as http:
        response = await http.post("/raw", content=body)
    assert_problem(response, 408)
    assert body.sent < body.count


async def test_body_deadline_prompt_body_is_not_affected() -> None:
    async with client(make_app(body_timeout=0.3)) as http:
        responses = [await http.post("/raw", content=b"z" * 10) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]


@pytest.mark.parametrize("path", ["/json", "/raw"])
async def test_body_limit_get_without_body_passes(path: str) -> None:
    async with client(make_app()) as http:
        response = await http.get(path)
    assert response.status_code == 405


@pytest.mark.parametrize(
    ("headers", "wrapped"),
    [
        ([], False),  # HTTP/1.1 without Content-Length or Transfer-Encoding: no body at all
        ([(b"content-length", b"0")], False),
        ([(b"content-length", b"10")], True),
        ([(b"transfer-encoding", b"chunked")], True),
        ([(b"content-length", b"ten")], True),  # unreadable: counted as it comes
    ],
)
async def test_body_limit_wraps_receive_only_when_a_body_can_come(
    headers: list[tuple[bytes, bytes]], wrapped: bool
) -> None:
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(receive)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    middleware = BodyLimitMiddleware(inner, max_body_bytes=LIMIT, body_timeout=1.0)
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "headers": headers}
    await middleware(scope, receive, None)
    assert (seen[0] is not receive) is wrapped
