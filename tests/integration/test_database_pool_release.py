"""Releasing a connection of the async pool: no reset round trip, an open transaction still rolled back."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from pgbe.db.database import Database
from pgbe.settings import PgbeSettings


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    """A Database with a pool of one connection on the run's test database."""
    db = Database(PgbeSettings(database_url=os.environ["DATABASE_URL"], db_async_pool_size=1))
    yield db
    await db.close()


async def _backend(database: Database, pid: int) -> asyncpg.Record:
    admin = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        row = await admin.fetchrow("SELECT query, state FROM pg_stat_activity WHERE pid = $1", pid)
    finally:
        await admin.close()
    assert row is not None
    return row


async def test_pool_release_after_statement_sends_no_reset_query(database: Database) -> None:
    async with database.acquire() as conn:
        pid = conn.get_server_pid()
        await conn.fetchval("SELECT 'pool-release-marker'")

    # pg_stat_activity shows a backend's last statement: the request's, not asyncpg's reset query.
    row = await _backend(database, pid)
    assert row["query"] == "SELECT 'pool-release-marker'"
    assert row["state"] == "idle"
    async with database.acquire() as again:
        assert again.get_server_pid() == pid


async def test_pool_release_inside_open_transaction_rolls_it_back(database: Database) -> None:
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    try:
        async with database.acquire() as conn:
            pid = conn.get_server_pid()
            await conn.transaction().start()
            await conn.execute("CREATE TEMPORARY TABLE left_open (id int)")
    finally:
        loop.set_exception_handler(previous)
    row = await _backend(database, pid)
    assert row["state"] == "idle"  # not "idle in transaction"
    assert row["query"] == "ROLLBACK"
    assert any("active transaction" in str(c.get("message")) for c in loop_errors)
    async with database.acquire() as again:
        assert await again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
