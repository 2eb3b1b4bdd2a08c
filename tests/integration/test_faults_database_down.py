"""Database unavailable: 503 with Retry-After (never 500, never a hang), readiness false, recovery."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from pgbe.testing.servers import AppServer, free_port
from tests.fault_fixtures import ROOT, FaultCluster

pytestmark = pytest.mark.faults
# Every request below must come back well within this; a hung request fails the test.
CLIENT_TIMEOUT = 20


@pytest.fixture(scope="module")
def down_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def unreachable_app(down_port: int) -> Iterator[AppServer]:
    """The application configured for a database port where, at first, nothing listens."""
    server = AppServer(
        ROOT,
        {
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{down_port}/app",
            "PROJECT_NAME": "pgbe-fault-down",
            "ENVIRONMENT": "test",
            "DB_CONNECT_TIMEOUT": "1",
            "DB_POOL_TIMEOUT": "1",
        },
    )
    server.start()
    yield server
    server.stop()
    assert server.unexpected_errors() == []


@pytest.fixture
def blackhole(down_port: int) -> Iterator[None]:
    """A listener on the database port that completes TCP handshakes and never says a word."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", down_port))
        sock.listen(64)
        yield


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 503
    assert int(response.headers["retry-after"]) >= 1


def requests_needing_the_database(staff: dict[str, str]) -> list[tuple[str, str, dict[str, object]]]:
    return [
        ("GET", "/categories", {}),  # asyncpg pool (generated read)
        ("GET", "/products/1", {}),
        ("POST", "/categories", {"json": {"name": "down"}, "headers": staff}),  # asyncpg write
        ("GET", "/items/", {}),  # sync psycopg engine (get_db)
        ("GET", "/health/ready", {}),
    ]


@pytest.mark.parametrize("situation", ["refused", "blackhole"])
def test_database_unreachable_every_request_returns_503(
    unreachable_app: AppServer, fault_cluster: FaultCluster, situation: str, request: pytest.FixtureRequest
) -> None:
    if situation == "blackhole":
        request.getfixturevalue("blackhole")
    staff = fault_cluster.bearer("staff")
    with httpx.Client(base_url=unreachable_app.url, timeout=CLIENT_TIMEOUT) as http:
        for method, path, options in requests_needing_the_database(staff):
            assert_unavailable(http.request(method, path, **options))  # type: ignore[arg-type]
        assert http.get("/health/live").status_code == 200


async def test_database_blackholed_concurrent_requests_all_503(
    unreachable_app: AppServer, blackhole: None
) -> None:
    async with httpx.AsyncClient(base_url=unreachable_app.url, timeout=CLIENT_TIMEOUT) as http:
        responses = await asyncio.gather(*(http.get("/categories") for _ in range(8)))
    for response in responses:
        assert_unavailable(response)


def wait_for_status(http: httpx.Client, path: str, status: int, *, within: float = 20) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = http.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_database_stopped_then_started_service_recovers_by_itself(
    load_app: AppServer, fault_cluster: FaultCluster
) -> None:
    staff = fault_cluster.bearer("staff")
    with httpx.Client(base_url=load_app.url, timeout=CLIENT_TIMEOUT) as http:
        assert http.get("/categories").status_code == 200
        assert http.get("/items/").status_code == 200
        assert http.get("/health/ready").status_code == 200
        fault_cluster.cluster.stop()
        try:
            for method, path, options in requests_needing_the_database(staff):
                assert_unavailable(http.request(method, path, **options))  # type: ignore[arg-type]
        finally:
            fault_cluster.cluster.start()
        assert wait_for_status(http, "/health/ready", 200).status_code == 200
        assert wait_for_status(http, "/categories", 200).status_code == 200
        assert wait_for_status(http, "/items/", 200).status_code == 200
        created = http.post("/categories", json={"name": "after the restart"}, headers=staff)
        assert created.status_code == 201, created.text
    assert load_app.unexpected_errors() == []
