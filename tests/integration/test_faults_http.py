"""Edges of the HTTP server under uvicorn: body limits, slow clients, disconnects, graceful shutdown."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from pgbe.testing.servers import AppServer
from tests.fault_fixtures import (
    LOCK_WAITERS,
    FaultCluster,
    application_name,
    assert_problem,
    assert_server_healthy,
    table_locked,
)

pytestmark = pytest.mark.faults


@pytest.fixture
def app(tight_app: AppServer, fault_cluster: FaultCluster) -> Iterator[AppServer]:
    """The server with MAX_BODY_BYTES=4096, HTTP_BODY_TIMEOUT=1 and pools of one, checked after the test."""
    yield tight_app
    assert_server_healthy(tight_app, fault_cluster)


def lock_waits(cluster: FaultCluster, server: AppServer) -> int:
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT count(*) " + LOCK_WAITERS,
            (application_name(server),),
        ).fetchone()
    return int(row[0]) if row else 0


def wait_for(condition: Callable[[], bool], message: str, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.02)


def test_http_declared_body_over_limit_returns_413(app: AppServer, fault_cluster: FaultCluster) -> None:
    body = json.dumps({"name": "x" * 10_000}).encode()
    headers = fault_cluster.bearer("staff")
    response = httpx.post(f"{app.url}/categories", content=body, headers=headers, timeout=10)
    assert_problem(response, 413)


def test_http_chunked_body_over_limit_returns_413(app: AppServer, fault_cluster: FaultCluster) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(8):
            yield b"y" * 1000
        yield b'"}'

    headers = {**fault_cluster.bearer("staff"), "content-type": "application/json"}
    response = httpx.post(f"{app.url}/categories", content=chunks(), headers=headers, timeout=10)
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413)


def test_http_trickling_body_returns_408(app: AppServer, fault_cluster: FaultCluster) -> None:
    def trickle() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(30):
            time.sleep(0.1)
            yield b"z"
        yield b'"}'

    headers = {**fault_cluster.bearer("staff"), "content-type": "application/json"}
    response = httpx.post(f"{app.url}/categories", content=trickle(), headers=headers, timeout=10)
    assert_problem(response, 408)


def test_http_client_disconnect_mid_write_rolls_back(app: AppServer, fault_cluster: FaultCluster) -> None:
    name = f"abandoned-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"name": name, "price": 5}).encode()
    token = fault_cluster.bearer("staff")["Authorization"]
    request = (
        f"POST /products HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with table_locked(fault_cluster, "products") as locker:
        with socket.create_connection(("127.0.0.1", app.port)) as client:
            client.sendall(request)
            wait_for(lambda: lock_waits(fault_cluster, app) > 0, "the write never reached the database")
        # The client is gone: the insert must be cancelled while it still waits on the lock.
        wait_for(lambda: lock_waits(fault_cluster, app) == 0, "the abandoned write kept waiting")
        locker.rollback()
    time.sleep(0.2)
    with fault_cluster.connect() as conn:
        assert conn.execute("SELECT count(*) FROM products WHERE name = %s", (name,)).fetchone() == (0,)


def test_http_graceful_shutdown_finishes_in_flight_request_and_closes_pools(
    fault_cluster: FaultCluster,
) -> None:
    server = fault_cluster.app()
    name = application_name(server)
    result: list[httpx.Response] = []
    try:
        assert httpx.get(f"{server.url}/categories", timeout=30).status_code == 200
        with table_locked(fault_cluster, "categories") as locker:
            slow = threading.Thread(
                target=lambda: result.append(httpx.get(f"{server.url}/categories", timeout=30))
            )
            slow.start()
            wait_for(lambda: lock_waits(fault_cluster, server) > 0, "the request never started")
            server.terminate()  # SIGTERM while the request is in flight
            time.sleep(0.5)
            assert server.process is not None
            assert server.process.poll() is None  # still serving the in-flight request
            locker.rollback()
            slow.join(30)
        assert result
        assert result[0].status_code == 200
        # uvicorn re-raises the captured SIGTERM once its graceful shutdown is done
        assert server.wait(30) in (0, -signal.SIGTERM)
        with fault_cluster.connect() as conn:
            left = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
            ).fetchone()
        assert left == (0,)
        assert "Application shutdown complete" in server.log()  # the lifespan that closes the pools ran
        assert server.unexpected_errors() == []
    finally:
        server.stop()
