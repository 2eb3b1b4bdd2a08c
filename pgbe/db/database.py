"""Engines, sessions and the async pool of one PostgreSQL database, built from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from functools import cached_property
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from pgbe.db.connections import ConnectionFactory, release_without_reset
from pgbe.db.read_session import RoutingSession
from pgbe.db.read_state import current_routing, mark_primary_used, parse_lsn
from pgbe.db.replicas import ReplicaSet
from pgbe.db.urls import describe, libpq_dsn, resolve_url, with_driver
from pgbe.errors import ServiceUnavailableError
from pgbe.settings import PgbeSettings

T = TypeVar("T")
Borrowed = AbstractAsyncContextManager[asyncpg.Connection]  # `async with` it for a connection
logger = logging.getLogger("pgbe.db.database")
# Errors meaning the connection went away while a statement ran (server restart, terminated
# backend, broken socket): a read may safely run again on a fresh connection, a write may not.
_DIED_MID_FLIGHT = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    ConnectionError,
)


class Database:
    """The engines, sessions and pools of one project, configured from its settings.

    Generated endpoints go through two doors, `run_read` and `run_write`; other async code borrows a
    primary connection with `acquire` (for a transaction, say). All three borrow through `borrow`,
    the one method a test replaces to run every request on its own connection.
    """

    def __init__(self, settings: PgbeSettings, *, url: str | None = None) -> None:
        self.settings = settings
        self._url = url
        self._pool: asyncpg.Pool | None = None
        self._pool_opening: asyncio.Future[asyncpg.Pool] | None = None

    @cached_property
    def url(self) -> URL:
        """The primary database URL (psycopg driver)."""
        return with_driver(self._url or resolve_url(self.settings), "psycopg")

    @cached_property
    def connections(self) -> ConnectionFactory:
        """How the primary's engines and pools are made (pool sizes, timeouts)."""
        return ConnectionFactory.primary(self.settings)

    def make_engine(self, url: URL | str, **overrides: Any) -> Engine:
        """Create a pooled psycopg engine for `url` with the project's pool settings."""
        return self.connections.engine(url, **overrides)

    async def create_asyncpg_pool(self, url: URL | str, **overrides: Any) -> asyncpg.Pool:
        """Open an asyncpg pool on `url` with the project's settings (`overrides` win)."""
        return await self.connections.pool(url, **overrides)

    @cached_property
    def engine(self) -> Engine:
        """The primary's sync engine (psycopg 3)."""
        return self.connections.engine(self.url)

    @cached_property
    def SessionLocal(self) -> sessionmaker[Session]:
        """The sync session factory."""
        return sessionmaker(bind=self.engine, autoflush=False, expire_on_commit=False)

    @cached_property
    def async_engine(self) -> AsyncEngine:
        """The primary's async engine (asyncpg), on the same settings."""
        return self.connections.async_engine(self.url)

    @cached_property
    def AsyncSessionLocal(self) -> async_sessionmaker[AsyncSession]:
        """The async session factory."""
        return async_sessionmaker(bind=self.async_engine, expire_on_commit=False)

    @cached_property
    def replicas(self) -> ReplicaSet:
        """The read replicas (`database_replica_urls`); empty when none are configured."""
        settings = self.settings
        return ReplicaSet(
            [with_driver(u, "psycopg") for u in settings.database_replica_urls],
            ConnectionFactory.replica(settings),
            max_lag=settings.db_replica_max_lag_seconds,
        )

    @cached_property
    def ReadSessionLocal(self) -> sessionmaker[Session]:
        """The factory of read sessions: a replica until the session writes, then the primary."""
        return sessionmaker(
            class_=RoutingSession,
            primary=self.engine,
            replicas=self.replicas,
            autoflush=False,
            expire_on_commit=False,
        )

    def read_session(self) -> Iterator[Session]:
        """Yield a read-routing session (`get_read_db`), rolled back on error and always closed."""
        yield from _managed(self.ReadSessionLocal)

    def session(self) -> Iterator[Session]:
        """Yield a session that is rolled back on error and always closed."""
        yield from _managed(self.SessionLocal)

    async def async_session(self) -> AsyncIterator[AsyncSession]:
        """Yield an async session that is rolled back on error and always closed."""
        db = self.AsyncSessionLocal()
        try:
            yield db
        except BaseException:
            await db.rollback()
            raise
        finally:
            await db.close()

    async def pool(self) -> asyncpg.Pool:
        """Return the asyncpg pool of the generated endpoints, opening it on first use.

        Concurrent callers share one opening attempt, so an unreachable server costs every waiting
        request one connect timeout, not one each; a failed attempt is forgotten and retried by the
        next caller, which is how the service recovers once the database is back.
        """
        if self._pool is not None:
            return self._pool
        if self._pool_opening is None:
            self._pool_opening = asyncio.ensure_future(self._open_pool(libpq_dsn(self.url)))
        opening = self._pool_opening
        try:
            pool = await asyncio.shield(opening)
        except BaseException:
            if opening.done() and self._pool_opening is opening:
                self._pool_opening = None
            raise
        if self._pool is None:
            self._pool = pool
            self._pool_opening = None
        return self._pool

    async def _open_pool(self, dsn: str) -> asyncpg.Pool:
        try:
            return await self.connections.pool(dsn)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            # Said once per failed opening (concurrent requests share one), so a database that
            # does not exist, or refuses the role, is not retried in silence.
            logger.error("cannot open the database pool on %s: %s", describe(self.url), exc)
            raise ServiceUnavailableError("The database is unavailable", retry_after=2) from exc

    def borrow(self, *, read: bool = False, min_lsn: str | None = None) -> Borrowed:
        """`async with`: lend a connection, the one place every door gets one (tests replace it).

        A read (`read=True`) is lent a replica's connection when one is configured, has replayed
        `min_lsn` and the request has not used the primary yet; anything else, a primary's.
        """
        if read and self.replicas:
            return _ReadConnection(self, min_lsn)
        return _PrimaryConnection(self)

    def acquire(self) -> Borrowed:
        """`async with`: a connection of the primary's async pool, waiting at most the pool timeout.

        The rest of the request then reads from the primary too (it may have written).
        """
        mark_primary_used()
        return self.borrow()

    async def run_read(
        self, work: Callable[[asyncpg.Connection], Awaitable[T]], *, min_lsn: str | None = None
    ) -> T:
        """Run the read-only `work` on a read connection, once more on a fresh one if the first died.

        `min_lsn` is the WAL position the caller has seen (read-your-writes): a replica that has not
        replayed it yet is not used. Only a connection lost mid-flight (server restart, terminated
        backend) is retried, and only once; `work` must not write, because a write may have been
        applied before the loss.
        """
        try:
            async with self.borrow(read=True, min_lsn=min_lsn) as conn:
                return await work(conn)
        except _DIED_MID_FLIGHT:
            pass
        async with self.borrow(read=True, min_lsn=min_lsn) as conn:
            return await work(conn)

    async def run_write(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `work` on a primary connection, once; the rest of the request then reads from the primary."""
        mark_primary_used()
        async with self.borrow() as conn:
            return await work(conn)

    async def current_lsn(self, conn: asyncpg.Connection | None = None) -> str:
        """Return the primary's current WAL position (after a commit: a read-your-writes token)."""
        if conn is not None:
            lsn: str = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
            return lsn
        async with self.borrow() as primary:
            lsn = await primary.fetchval("SELECT pg_current_wal_lsn()::text")
        return lsn

    async def replica_problems(self) -> list[str]:
        """Check every replica now; return one line per replica that is not serving reads."""
        results = await asyncio.gather(*(self.replicas.check(r) for r in self.replicas.replicas))
        return [
            f"{r.name} {problem}"
            for r, problem in zip(self.replicas.replicas, results, strict=True)
            if problem
        ]

    def open_pools(self) -> dict[str, Any]:
        """Return the pools opened so far by name (asyncpg pools and SQLAlchemy pools), for metrics."""
        pools: dict[str, Any] = {}
        if self._pool is not None:
            pools["primary"] = self._pool
        if "engine" in self.__dict__:
            pools["primary-sync"] = self.engine.pool
        if "async_engine" in self.__dict__:
            pools["primary-async-orm"] = self.async_engine.sync_engine.pool
        if "replicas" in self.__dict__:
            for replica in self.replicas.replicas:
                if replica.pool is not None:
                    pools[replica.name] = replica.pool
                if replica.engine is not None:
                    pools[f"{replica.name}-sync"] = replica.engine.pool
        return pools

    async def close(self) -> None:
        """Close every pool this database opened."""
        if "replicas" in self.__dict__:
            await self.replicas.close()
        if self._pool_opening is not None:
            self._pool_opening.cancel()
            self._pool_opening = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if "async_engine" in self.__dict__:
            await self.async_engine.dispose()
        if "engine" in self.__dict__:
            self.engine.dispose()


class _ReadConnection:
    """A borrowed connection for a read: a replica's when one may serve it, else the primary's.

    A replica is not used once the request has used the primary (it may have written), nor when it
    has not replayed the WAL position the request must see (`min_lsn`, or the one it carries).
    """

    __slots__ = ("conn", "database", "min_lsn", "primary", "replica")

    def __init__(self, database: Database, min_lsn: str | None) -> None:
        self.database = database
        self.min_lsn = min_lsn
        self.primary: _PrimaryConnection | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        routing = current_routing()
        picked = None
        if routing is None or not routing.wrote:
            needed = parse_lsn(self.min_lsn)
            if routing is not None and routing.min_lsn is not None:
                needed = max(needed or 0, routing.min_lsn)
            picked = await self.database.replicas.acquire(needed)
        if picked is None:
            self.primary = _PrimaryConnection(self.database)
            return await self.primary.__aenter__()
        self.replica, self.conn = picked
        return self.conn

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if self.primary is not None:
            await self.primary.__aexit__(exc_type, exc, tb)
            return
        try:
            if isinstance(exc, _DIED_MID_FLIGHT):
                self.replica.mark_down(exc)
        finally:
            await self.database.replicas.release(self.replica, self.conn)


class _PrimaryConnection:
    """A borrowed connection of the primary's pool as a class-based context manager.

    Every use of the primary goes through it; being a plain class rather than a generator keeps it
    cheap on the one-statement requests of the generated endpoints.
    """

    __slots__ = ("conn", "database", "pool")

    def __init__(self, database: Database) -> None:
        self.database = database

    async def __aenter__(self) -> asyncpg.Connection:
        database = self.database
        self.pool = database._pool or await database.pool()
        # With an idle connection the wait is immediate: no timer to arm and cancel (~8 us a request).
        timeout = None if self.pool.get_idle_size() else database.settings.db_pool_timeout
        try:
            self.conn = await self.pool.acquire(timeout=timeout)
        except TimeoutError as exc:
            raise ServiceUnavailableError("All database connections are busy", retry_after=1) from exc
        return self.conn

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            if isinstance(exc, asyncpg.InternalClientError):
                raise _lost(self.conn, exc) from exc
        finally:
            # The close of a lost connection may already have returned it to the pool.
            with contextlib.suppress(asyncpg.InternalClientError):
                await self.pool.release(self.conn)


def _lost(conn: asyncpg.Connection, exc: asyncpg.InternalClientError) -> asyncpg.ConnectionDoesNotExistError:
    """Drop a connection whose protocol state broke; return the error to raise (a read may retry it).

    asyncpg's protocol state breaks when the server ends a session while its connection sits idle in
    the pool (restart, pg_terminate_backend) and the close is not yet seen: the connection is dead.
    """
    logger.warning("asyncpg connection dropped after an internal error: %s", exc)
    conn.terminate()
    return asyncpg.ConnectionDoesNotExistError(f"the connection was lost ({exc})")


def _managed(factory: Callable[[], Session]) -> Iterator[Session]:
    """Yield a new session of `factory`, rolled back on error and always closed."""
    db = factory()
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


__all__ = ["Database", "describe", "libpq_dsn", "release_without_reset", "resolve_url", "with_driver"]
