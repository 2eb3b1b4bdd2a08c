"""Pool exhaustion and server-side timeouts, on the application served by uvicorn with pools of one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pgbe.db.database import Database
from pgbe.db.errors import translate
from pgbe.errors import ServiceUnavailableError
from pgbe.settings import PgbeSettings
from pgbe.testing.leaks import assert_pools_returned
from pgbe.testing.servers import AppServer
from tests.fault_fixtures import (
    LOCK_WAITERS,
    FaultCluster,
    application_name,
    assert_problem,
    assert_server_healthy,
    poll_until,
    table_locked,
)

pytestmark = pytest.mark.faults


@pytest.fixture
def app(tight_app: AppServer, fault_cluster: FaultCluster) -> Iterator[AppServer]:
    """The tight server, checked for leaked or busy connections after the test."""
    yield tight_app
    assert_server_healthy(tight_app, fault_cluster)


def app_pids(cluster: FaultCluster, server: AppServer) -> set[int]:
    with cluster.connect() as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name(server),)
        ).fetchall()
    return {row[0] for row in rows}


async def wait_until_waiting_on_lock(cluster: FaultCluster, server: AppServer, count: int = 1) -> None:
    await poll_until(
        cluster,
        "SELECT count(*) >= %s " + LOCK_WAITERS,
        (count, application_name(server)),
        failure="the request never reached the database",
    )


@pytest.mark.parametrize("path", ["/categories", "/items/"], ids=["asyncpg", "sync"])
async def test_pool_exhausted_request_waits_pool_timeout_then_503(
    app: AppServer, fault_cluster: FaultCluster, path: str
) -> None:
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:
        with table_locked(fault_cluster, "categories" if path == "/categories" else "products"):
            holder = asyncio.ensure_future(http.get(path))
            await wait_until_waiting_on_lock(fault_cluster, app)
            waiter = await http.get(path)
            assert not holder.done()  # the 503 came while the only connection was still busy
        held = await holder
    assert_problem(waiter, 503, retry_after=True)
    assert "busy" in waiter.json()["detail"]
    assert held.status_code == 200


@pytest.mark.parametrize("path", ["/categories", "/items/"], ids=["asyncpg", "sync"])
async def test_statement_timeout_returns_504_and_connection_is_reused(
    app: AppServer, fault_cluster: FaultCluster, path: str
) -> None:
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:
        assert (await http.get(path)).status_code == 200
        before = app_pids(fault_cluster, app)
        with table_locked(fault_cluster, "categories" if path == "/categories" else "products"):
            slow = await http.get(path)  # waits on the lock until statement_timeout (2 s)
        after_timeout = await http.get(path)
    assert_problem(slow, 504, retry_after=True)
    assert after_timeout.status_code == 200
    assert app_pids(fault_cluster, app) == before  # the same connections, not replaced ones


def tight_database(cluster: FaultCluster) -> Database:
    settings = PgbeSettings(
        database_url=cluster.url,
        project_name="pgbe-fault-direct",
        db_pool_size=1,
        db_max_overflow=0,
        db_async_pool_size=1,
        db_statement_timeout_ms=2000,
        db_idle_in_transaction_timeout_ms=1000,
    )
    return Database(settings)


async def test_connections_carry_statement_and_idle_timeouts(fault_cluster: FaultCluster) -> None:
    database = tight_database(fault_cluster)
    query = (
        "SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')"
    )
    try:
        with database.engine.connect() as conn:
            sync_values = tuple(conn.execute(text(query)).one())
        async with database.async_engine.connect() as aconn:
            async_values = tuple((await aconn.execute(text(query))).one())
        async with database.acquire() as raw:
            pool_values = tuple(await raw.fetchrow(query))
            show = await raw.fetchval("SHOW statement_timeout")
    finally:
        await database.close()
    assert sync_values == async_values == pool_values == ("2s", "1s")
    assert show == "2s"


async def test_idle_in_transaction_timeout_ends_session_and_pool_recovers(
    fault_cluster: FaultCluster,
) -> None:
    database = tight_database(fault_cluster)
    try:
        async with database.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute("SELECT 1")
            await asyncio.sleep(1.5)  # idle inside the transaction past the 1 s limit
            with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError)) as failure:
                await conn.execute("SELECT 1")
        error = translate(failure.value)
        assert isinstance(error, ServiceUnavailableError)  # 503 or 504, never a 500
        assert error.status_code in (503, 504)
        async with database.acquire() as conn:  # the pool of one replaced the dead connection
            assert await conn.fetchval("SELECT 1") == 1
        assert_pools_returned(database)
    finally:
        await database.close()


def test_sync_idle_in_transaction_timeout_is_translated(fault_cluster: FaultCluster) -> None:
    database = tight_database(fault_cluster)
    try:
        with database.SessionLocal() as db:
            db.execute(text("SELECT 1"))
            time.sleep(1.5)
            with pytest.raises(DBAPIError) as failure:
                db.execute(text("SELECT 1"))
            db.rollback()
        error = translate(failure.value)
        assert isinstance(error, ServiceUnavailableError)
        with database.SessionLocal() as db:  # pre-ping replaces the dead pooled connection
            assert db.execute(text("SELECT 1")).scalar() == 1
        assert_pools_returned(database)
    finally:
        database.engine.dispose()
