"""Oversized request heads are answered 431 at once under either HTTP parser `pgbe run` may use."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from pgbe.http.head_limit import HAS_HTTPTOOLS, BoundedH11Protocol, protocol_class
from pgbe.testing.servers import free_port

LIMIT = 65_536


async def _hello(_: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


APP = Starlette(routes=[Route("/", _hello, methods=["GET", "POST"])])
PARSERS = ["h11", *(["httptools"] if HAS_HTTPTOOLS else [])]


@pytest.fixture(params=PARSERS)
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """uvicorn on a free port with the protocol class `pgbe run` picks for this parser."""
    monkeypatch.setenv("MAX_HEADER_BYTES", str(LIMIT))
    http = BoundedH11Protocol if request.param == "h11" else protocol_class("httptools")
    port = free_port()
    config = uvicorn.Config(APP, host="127.0.0.1", port=port, http=http, log_level="warning", lifespan="off")
    config.h11_max_incomplete_event_size = 2 * LIMIT + 262_144
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield port
    instance.should_exit = True
    thread.join(timeout=10)


def _exchange(port: int, head: bytes, body: bytes = b"") -> tuple[bytes, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # answered and closed early
            conn.sendall(head + body)
        chunks = []
        while True:
            try:
                chunk = conn.recv(65_536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"connection: close" not in b"".join(chunks).lower():
                break
    return b"".join(chunks), time.monotonic() - started


@pytest.mark.parametrize("size", [100_000, 8_000_000])
def test_oversized_header_returns_431_at_once(server: int, size: int) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    answer, seconds = _exchange(server, head)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"application/problem+json" in answer
    assert seconds < 2


def test_oversized_request_line_returns_431(server: int) -> None:
    answer, _ = _exchange(server, b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_headers_within_limit_and_large_body_are_served(server: int) -> None:
    body = b"x" * 1_000_000  # a body far larger than the head limit is not a head
    head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Ok: " + b"a" * 30_000 + b"\r\ncontent-length: 1000000\r\n\r\n"
    answer, _ = _exchange(server, head, body)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % n for n in range(50)) + b"\r\n"
    assert _exchange(server, many)[0].startswith(b"HTTP/1.1 200 ")


def test_pgbe_run_uses_the_bounded_protocol_for_its_parser() -> None:
    expected = "BoundedHttpToolsProtocol" if HAS_HTTPTOOLS else "BoundedH11Protocol"
    assert protocol_class().__name__ == expected
