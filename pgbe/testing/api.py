"""An HTTP client for the application whose database work is rolled back after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
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
    """Yield an ApiClient; the database's acquire, acquire_read, run_read and run_write share one transaction.

    Each acquire opens a savepoint, so a request that fails leaves the test's transaction usable.
    """
    # counted like the pools' connections, so request logs show the statements of a test's requests
    conn = await asyncpg.connect(libpq_dsn(database.url), connection_class=CountedConnection)
    outer = conn.transaction()
    await outer.start()
    counter = QueryCounter()

    counted = counter.wrap(conn)

    @asynccontextmanager
    async def acquire(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        del args, kwargs
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            yield counted
        except BaseException:
            await savepoint.rollback()
            raise
        await savepoint.commit()

    async def run_read(work: Callable[[Any], Awaitable[Any]], **kwargs: Any) -> Any:
        async with acquire(**kwargs) as borrowed:
            return await work(borrowed)

    entry_points = ("acquire", "acquire_read", "run_read", "run_write")
    saved = {name: database.__dict__.get(name) for name in entry_points}
    database.acquire = acquire  # type: ignore[method-assign]
    database.acquire_read = acquire  # type: ignore[method-assign]
    database.run_read = run_read  # type: ignore[method-assign]
    database.run_write = run_read  # type: ignore[method-assign]
    rate_limits = getattr(getattr(app, "state", None), "rate_limits", None)
    if rate_limits is not None:  # each test starts with fresh per-client counters, as with its rows
        await rate_limits.reset()
    client = ApiClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    client.conn = conn
    client.queries = counter
    try:
        yield client
    finally:
        await client.aclose()
        for name, value in saved.items():
            if value is None:
                database.__dict__.pop(name, None)
            else:
                setattr(database, name, value)
        await outer.rollback()
        await conn.close()
