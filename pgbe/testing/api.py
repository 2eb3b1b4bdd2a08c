"""An HTTP client for the application whose database work is rolled back after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx

from pgbe.db.database import Database, libpq_dsn
from pgbe.observability.sql import CountedConnection
from pgbe.testing.queries import QueryCounter


class ApiClient(httpx.AsyncClient):
    """An httpx client on the ASGI app, with the test's database connection and statement counter.

    `conn` is the one asyncpg connection every request of the test uses, inside a transaction rolled
    back at the end: run SQL on it to set up rows or to check that a request changed nothing.
    `queries` counts the statements requests run on it (the harness's savepoints excluded).
    """

    conn: asyncpg.Connection
    queries: QueryCounter


@asynccontextmanager
async def rolled_back_client(app: Any, database: Database) -> AsyncIterator[ApiClient]:
    """Yield an ApiClient whose requests all borrow one connection, in a transaction rolled back after.

    Only `Database.borrow` is replaced, so `run_read`, `run_write` and `acquire` run as in production
    (retries, read routing marks). Each borrow opens a savepoint, so a request that fails leaves the
    test's transaction usable.
    """
    # counted like the pools' connections, so request logs show the statements of a test's requests
    conn = await asyncpg.connect(libpq_dsn(database.url), connection_class=CountedConnection)
    outer = conn.transaction()
    await outer.start()
    counter = QueryCounter()

    counted = counter.wrap(conn)

    @asynccontextmanager
    async def borrow(*, read: bool = False, min_lsn: str | None = None) -> AsyncIterator[Any]:
        del read, min_lsn
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            yield counted
        except BaseException:
            await savepoint.rollback()
            raise
        await savepoint.commit()

    saved = database.__dict__.get("borrow")  # a client opened inside another one's lifetime
    database.borrow = borrow  # type: ignore[method-assign]
    client = ApiClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    client.conn = conn
    client.queries = counter
    try:
        yield client
    finally:
        await client.aclose()
        if saved is None:
            del database.borrow
        else:
            database.borrow = saved  # type: ignore[method-assign]
        await outer.rollback()
        await conn.close()
