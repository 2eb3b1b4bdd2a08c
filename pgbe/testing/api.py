"""An HTTP client for the application whose database work, of every kind, is one rolled-back transaction.

A test's requests reach the database four ways: the generated endpoints and pgbe's own services
(asyncpg: `run_read`, `run_write`, `acquire`, all lent a connection by `Database.borrow`),
hand-written sync routes (`get_db`, `get_read_db`: `Database.session` / `read_session`), async ORM
routes (`get_async_db`: `Database.async_session`), and controllers called by any of them. For the
length of a test they all run on ONE asyncpg connection inside one transaction, rolled back when the
test ends: a row written by a generated endpoint is seen by a `get_db` route of the same test, and
nothing leaks to the next.

Every borrow of the connection is a savepoint, and every commit of a session releases its own, so a
request that fails is undone alone and a session that commits keeps its rows for the rest of the
test, as in production. Sessions use SQLAlchemy's asyncpg dialect on that connection; sync sessions
run in FastAPI's worker threads, whose driver calls `bridged` sends to the test's event loop.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from pgbe.db.database import Database, libpq_dsn, with_driver
from pgbe.observability.sql import CountedConnection
from pgbe.testing.queries import QueryCounter

T = TypeVar("T")

# SQLAlchemy's asyncio layer runs driver coroutines through `await_`, which needs a greenlet made by
# `greenlet_spawn` on the event loop's thread. A sync route runs in a worker thread instead; for the
# test's connection, these modules' `await_` then hands the coroutine to the loop and waits for it.
_AWAITING_MODULES = (
    "sqlalchemy.connectors.asyncio",
    "sqlalchemy.dialects.postgresql.asyncpg",
    "sqlalchemy.engine.interfaces",
    "sqlalchemy.util.concurrency",  # its asyncio lock (the engine's first connect)
)
_DATABASE_ENTRY_POINTS = ("borrow", "session", "read_session", "async_session")


class SharedConnectionDialect(PGDialect_asyncpg):
    """SQLAlchemy's asyncpg dialect, leaving the shared connection's codecs as the raw endpoints use them.

    SQLAlchemy's asyncpg dialect makes its connections decode JSON itself; on the connection the
    generated endpoints share, JSON must stay text (they answer it as is), so sessions decode it.
    """

    supports_statement_cache = True
    supports_native_json_deserialization = False
    dialect_injects_custom_json_deserializer = False

    def on_connect(self) -> Callable[[Any], None] | None:
        """PostgreSQL's set-up of a new connection, without asyncpg's JSON codecs."""
        return super(PGDialect_asyncpg, self).on_connect()


registry.register("postgresql.pgbe_shared", __name__, "SharedConnectionDialect")


class ApiClient(httpx.AsyncClient):
    """An httpx client on the ASGI app, with the test's database connection and statement counter.

    `conn` is the one asyncpg connection every request of the test uses, inside a transaction rolled
    back at the end: run SQL on it to set up rows or to check what a request changed.
    `queries` counts the statements requests run on it, through asyncpg or a session (the
    harness's savepoints excluded). `run_sync(work)` runs `work(session)` with a sync Session in that
    same transaction (a controller, ORM objects), committed when `work` returns.
    """

    conn: asyncpg.Connection
    queries: QueryCounter
    shared: SharedTransaction

    async def run_sync(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` in the test's transaction and commit it; roll it back if it raises."""
        return await self.shared.run_sync(work)


class SharedTransaction:
    """One asyncpg connection in one transaction, lent to every database entry point of a test."""

    def __init__(self, conn: asyncpg.Connection, database: Database, counter: QueryCounter) -> None:
        self.conn = conn
        self.database = database
        self.counter = counter
        self.counted = counter.wrap(conn)
        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self._engine: AsyncEngine | None = None
        self._lock = threading.Lock()

    @asynccontextmanager
    async def borrow(self, *, read: bool = False, min_lsn: str | None = None) -> AsyncIterator[Any]:
        """Lend the connection inside a savepoint (released on success, rolled back on error).

        Only `Database.borrow` is replaced on the asyncpg side, so `run_read`, `run_write` and
        `acquire` run as in production (retries, read routing marks).
        """
        del read, min_lsn
        savepoint = self.conn.transaction()
        await savepoint.start()
        try:
            yield self.counted
        except BaseException:
            await savepoint.rollback()
            raise
        await savepoint.commit()

    @property
    def engine(self) -> AsyncEngine:
        """An engine whose only connection is the test's; made when a session is first asked for."""
        with self._lock:
            if self._engine is None:
                self._engine = self._make_engine()
            return self._engine

    def _make_engine(self) -> AsyncEngine:
        conn = self.conn

        async def lend() -> asyncpg.Connection:
            return conn

        engine = create_async_engine(
            with_driver(self.database.url, "pgbe_shared"),
            async_creator=lend,
            poolclass=StaticPool,
            pool_reset_on_return=None,  # a session's own savepoint is ended by the session
        )
        counter = self.counter

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            counter.record(statement)

        return engine

    def _session_options(self, factory: sessionmaker[Any] | async_sessionmaker[Any]) -> dict[str, Any]:
        options = dict(factory.kw)
        options.pop("bind", None)
        options.pop("database", None)  # RoutingSession's: in a test there is one connection to route to
        return options

    def session(self) -> Iterator[Session]:
        """Yield a sync session on the test's transaction (`Database.session` / `read_session`)."""
        options = self._session_options(self.database.SessionLocal)
        session = sessionmaker(bind=self.engine.sync_engine, **options)()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    async def async_session(self) -> AsyncIterator[AsyncSession]:
        """Yield an async session on the test's transaction (`Database.async_session`)."""
        options = self._session_options(self.database.AsyncSessionLocal)
        session = async_sessionmaker(bind=self.engine, **options)()
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()

    async def run_sync(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` on the loop's thread (in SQLAlchemy's greenlet) and commit it."""
        async with asynccontextmanager(self.async_session)() as session:

            def committed(sync_session: Session) -> T:
                result = work(sync_session)
                sync_session.commit()
                return result

            return await session.run_sync(committed)

    def bridged(self, original: Callable[[Awaitable[Any]], Any]) -> Callable[[Awaitable[Any]], Any]:
        """Return SQLAlchemy's `await_`, sending driver coroutines of worker threads to the test's loop."""
        loop, loop_thread = self.loop, self.loop_thread

        def await_(awaitable: Awaitable[Any]) -> Any:
            if threading.get_ident() == loop_thread or loop.is_closed():
                return original(awaitable)
            return asyncio.run_coroutine_threadsafe(_as_coroutine(awaitable), loop).result()

        return await_

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Lend this transaction to the database's entry points and SQLAlchemy's driver calls."""
        database = self.database
        saved = {name: database.__dict__.get(name) for name in _DATABASE_ENTRY_POINTS}
        replacements: dict[str, Any] = {
            "borrow": self.borrow,
            "session": self.session,
            "read_session": self.session,
            "async_session": self.async_session,
        }
        modules = [importlib.import_module(name) for name in _AWAITING_MODULES]
        originals = [module.__dict__["await_"] for module in modules]
        for name, value in replacements.items():
            setattr(database, name, value)
        for module, original in zip(modules, originals, strict=True):
            module.__dict__["await_"] = self.bridged(original)
        try:
            yield
        finally:
            for module, original in zip(modules, originals, strict=True):
                module.__dict__["await_"] = original
            for name, saved_value in saved.items():
                if saved_value is None:
                    database.__dict__.pop(name, None)
                else:
                    setattr(database, name, saved_value)

    async def dispose(self) -> None:
        """Forget the sessions' engine (the connection itself is closed by its owner)."""
        if self._engine is not None:
            await self._engine.dispose(close=False)


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


@asynccontextmanager
async def rolled_back_client(app: Any, database: Database) -> AsyncIterator[ApiClient]:
    """Yield an ApiClient whose requests' database work, of every kind, is one rolled-back transaction."""
    # counted like the pools' connections, so request logs show the statements of a test's requests
    conn = await asyncpg.connect(libpq_dsn(database.url), connection_class=CountedConnection)
    outer = conn.transaction()
    await outer.start()
    shared = SharedTransaction(conn, database, QueryCounter())
    client = ApiClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    client.conn = conn
    client.queries = shared.counter
    client.shared = shared
    try:
        with shared.installed():
            yield client
    finally:
        await client.aclose()
        await shared.dispose()
        await outer.rollback()
        await conn.close()
