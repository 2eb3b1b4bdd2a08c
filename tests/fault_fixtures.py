"""Fixtures of the fault tests: a private PostgreSQL cluster and the application under real uvicorn."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from pgbe.testing.leaks import assert_no_busy_sessions
from pgbe.testing.servers import AppServer, PostgresCluster

ROOT = Path(__file__).resolve().parents[1]

# Clients drop idle keep-alive connections well before uvicorn closes them (5 s): reusing one the
# server is closing at that moment fails with a ReadError that says nothing about the application.
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=1.0)

# Small pools and short limits, so exhaustion and timeouts are reached by a handful of requests.
TIGHT = {
    "DB_POOL_SIZE": "1",
    "DB_MAX_OVERFLOW": "0",
    "DB_ASYNC_POOL_SIZE": "1",
    "DB_POOL_TIMEOUT": "0.5",
    "DB_CONNECT_TIMEOUT": "1",
    "DB_STATEMENT_TIMEOUT_MS": "2000",
    "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": "1000",
    "MAX_BODY_BYTES": "4096",
    "HTTP_BODY_TIMEOUT": "1",
}


class FaultCluster:
    """The private cluster with one migrated database `app` and a staff user for writes."""

    def __init__(self, cluster: PostgresCluster) -> None:
        self.cluster = cluster
        self.url = cluster.create_database("app")
        from alembic import command

        from pgbe.migrations import alembic_config

        command.upgrade(alembic_config(ROOT, url=self.url), "head")
        self.staff_id, self._staff_session = self._user("staff")
        self.admin_id, self._admin_session = self._user("admin")

    def _user(self, role: str) -> tuple[int, uuid.UUID]:
        """Commit a user with `role` and a sign-in session of it (tokens need both)."""
        session = uuid.uuid4()
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(
                "INSERT INTO users (email, first_name, last_name, full_name, hashed_password, role,"
                " is_active) VALUES (%s, 'Test', 'Faults', 'Test Faults', 'x', %s, true) RETURNING id",
                (f"{role}@faults.test", role),
            ).fetchone()
            assert row is not None
            conn.execute(
                "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)"
                " VALUES (%s, %s, %s, now() + interval '1 day')",
                (row[0], session, uuid.uuid4().hex),
            )
        user_id: int = row[0]
        return user_id, session

    def bearer(self, role: str) -> dict[str, str]:
        """An Authorization header of the staff or the admin user."""
        from tests.auth_fixtures import bearer_for

        if role == "staff":
            return bearer_for(self.staff_id, role, self._staff_session)
        return bearer_for(self.admin_id, role, self._admin_session)

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        """A direct autocommit connection to the `app` database (not the application's)."""
        return psycopg.connect(self.url, autocommit=True, application_name="fault-test")

    def app(self, **env: str) -> AppServer:
        """Start the application on this database; its sessions carry a unique application_name."""
        name = f"pgbe-fault-{uuid.uuid4().hex[:8]}"
        settings = {"DATABASE_URL": self.url, "PROJECT_NAME": name, "ENVIRONMENT": "test", **env}
        return AppServer(ROOT, settings).start()


@pytest.fixture(scope="session")
def fault_cluster() -> Iterator[FaultCluster]:
    """A private cluster for the whole run (tests may stop, restart or break it; they leave it up)."""
    if not PostgresCluster.available():
        pytest.skip("no PostgreSQL server binaries on this machine for a private cluster")
    cluster = PostgresCluster.create()
    try:
        yield FaultCluster(cluster)
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def tight_app(fault_cluster: FaultCluster) -> Iterator[AppServer]:
    """The application with pools of one connection and short limits (see TIGHT)."""
    server = fault_cluster.app(**TIGHT)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def load_app(fault_cluster: FaultCluster) -> Iterator[AppServer]:
    """The application with ordinary pools, for concurrent load."""
    server = fault_cluster.app(DB_POOL_SIZE="4", DB_ASYNC_POOL_SIZE="4", DB_CONNECT_TIMEOUT="2")
    yield server
    server.stop()


def application_name(server: AppServer) -> str:
    """The application_name of a server's database sessions."""
    return server.env["PROJECT_NAME"]


def assert_server_healthy(server: AppServer, cluster: FaultCluster) -> None:
    """No session left busy, both pools able to lend a connection, nothing unhandled in the log."""
    assert_no_busy_sessions(cluster.url, application_name(server))
    # With pools of one connection, these succeed only if every earlier request gave its back.
    assert httpx.get(f"{server.url}/items/", timeout=10).status_code == 200
    assert httpx.get(f"{server.url}/categories", timeout=10).status_code == 200
    assert server.unexpected_errors() == []


async def poll_until(cluster: FaultCluster, sql: str, params: Sequence[object], *, failure: str) -> None:
    """Run `sql` every 20 ms until its first column is true; fail with `failure` after 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with cluster.connect() as conn:
            row = conn.execute(sql, params).fetchone()
        if row and row[0]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(failure)


# The application's sessions that wait on a lock: `"SELECT count(*) " + LOCK_WAITERS`, with its name.
LOCK_WAITERS = "FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'"


@contextmanager
def table_locked(cluster: FaultCluster, table: str) -> Iterator[psycopg.Connection]:
    """Hold an ACCESS EXCLUSIVE lock on `table` (every statement touching it waits) until the block ends.

    The lock's connection is yielded: `rollback()` on it lets the waiting statements go earlier.
    """
    with psycopg.connect(cluster.url, application_name="fault-test") as conn:
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield conn
        conn.rollback()


def assert_problem(response: httpx.Response, status: int, *, retry_after: bool = False) -> None:
    """Assert a problem+json answer of `status` (with a Retry-After of a second or more if asked)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    if retry_after:
        assert int(response.headers["retry-after"]) >= 1
