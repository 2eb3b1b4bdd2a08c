"""What `pgbe run` serves with (pgbe.http.server): no banner, trusted proxies only, a concurrency bound."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.config.settings import Settings
from pgbe.http.server import server_options
from pgbe.testing.servers import free_port

release = threading.Event()


async def _client(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.client.host if request.client else "none")


async def _slow(_: Request) -> PlainTextResponse:
    while not release.is_set():
        await asyncio.sleep(0.02)
    return PlainTextResponse("done")


APP = Starlette(routes=[Route("/client", _client), Route("/slow", _slow)])


@contextmanager
def serve(**settings: Any) -> Iterator[tuple[str, uvicorn.Server]]:
    """uvicorn on a free port with the options `pgbe run` derives from these settings."""
    options = server_options(Settings(**settings)) | {"log_level": "warning", "log_config": None}
    port = free_port()
    config = uvicorn.Config(APP, host="127.0.0.1", port=port, lifespan="off", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        release.set()
        server.should_exit = True
        thread.join(timeout=10)
        release.clear()


def test_no_server_banner() -> None:
    with serve() as (url, _):
        response = httpx.get(f"{url}/client")
    assert response.status_code == 200
    assert "server" not in response.headers


def test_forwarded_for_ignored_unless_the_peer_is_a_configured_proxy() -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    with serve() as (url, _):
        assert httpx.get(f"{url}/client", headers=spoofed).text == "127.0.0.1"
    with serve(forwarded_allow_ips="10.0.0.1") as (url, _):
        assert httpx.get(f"{url}/client", headers=spoofed).text == "127.0.0.1"
    with serve(forwarded_allow_ips="127.0.0.1") as (url, _):
        assert httpx.get(f"{url}/client", headers=spoofed).text == "203.0.113.9"


def test_requests_beyond_the_concurrency_bound_get_503_at_once() -> None:
    """uvicorn counts the arriving connection too: with a bound of 3, two held requests fill it."""
    with (
        serve(server_max_concurrency=3) as (url, server),
        httpx.Client(timeout=20) as one,
        httpx.Client(timeout=20) as two,
    ):
        held = [threading.Thread(target=c.get, args=(f"{url}/slow",)) for c in (one, two)]
        for thread in held:
            thread.start()
        deadline = time.monotonic() + 10
        while len(server.server_state.tasks) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)  # both requests are in the server, held until `release`
        refused = httpx.get(f"{url}/client", timeout=20)
        still_held = all(thread.is_alive() for thread in held)
        release.set()
        for thread in held:
            thread.join(timeout=10)
    assert refused.status_code == 503
    assert still_held  # answered while the server was full, not after it drained


def test_zero_turns_the_concurrency_bound_off() -> None:
    assert server_options(Settings(server_max_concurrency=0))["limit_concurrency"] is None
