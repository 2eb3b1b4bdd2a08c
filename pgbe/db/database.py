"""Engines, sessions and the async pool of one PostgreSQL database, built from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from functools import cached_property, partial
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from pgbe.db.read_session import RoutingSession
from pgbe.db.read_state import current_routing, mark_primary_used, parse_lsn
from pgbe.db.replicas import ReplicaSet
from pgbe.db.urls import describe, libpq_dsn, resolve_url, with_driver
from pgbe.errors import ServiceUnavailableError
from pgbe.observability.sql import CountedConnection
from pgbe.settings import PgbeSettings

T = TypeVar("T")
logger = logging.getLogger("pgbe.db.database")
# Errors meaning the connection went away while a statement ran (server restart, terminated
# backend, broken socket): a read may safely run again on a fresh connection, a write may not.
_DIED_MID_FLIGHT = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    ConnectionError,
)


async def release_without_reset(_: asyncpg.Connection) -> None:
    """Return a connection to the pool without asyncpg's reset query (a round trip per request).

    asyncpg still rolls back a transaction left open before this runs. pgbe's code leaves no other
    session state on a pooled connection (no SET outside a transaction, LISTEN, advisory lock or
    open cursor); code that does must undo it before releasing, or open its pool with `reset=None`.
    """


class Database:
    """The engines and sessions of one project, configured from its settings."""

    def __init__(self, settings: PgbeSettings, *, url: str | None = None) -> None:
        self.settings = settings
        self._url = url
        self._pool: asyncpg.Pool | None = None
        self._pool_opening: asyncio.Future[asyncpg.Pool] | None = None

    @cached_property
    def url(self) -> URL:
        """The primary database URL (psycopg driver)."""
        return with_driver(self._url or resolve_url(self.settings), "psycopg")

    def _server_settings(self) -> dict[str, str]:
        s = self.settings
        return {
            "statement_timeout": str(s.db_statement_timeout_ms),
            "idle_in_transaction_session_timeout": str(s.db_idle_in_transaction_timeout_ms),
            "application_name": s.project_name,
        }

    def sync_connect_args(self) -> dict[str, Any]:
        """Connection arguments for psycopg: timeouts, and no prepared statements behind PgBouncer."""
        args: dict[str, Any] = {"connect_timeout": self.settings.db_connect_timeout}
        if self.settings.db_pgbouncer:
            args["prepare_threshold"] = None
        else:
            args["options"] = " ".join(f"-c {k}={v}" for k, v in self._server_settings().items())
        return args

    def async_connect_args(self) -> dict[str, Any]:
        """Connection arguments for asyncpg (through SQLAlchemy)."""
        args: dict[str, Any] = {"timeout": self.settings.db_connect_timeout}
        if self.settings.db_pgbouncer:
            args.update(statement_cache_size=0, prepared_statement_cache_size=0)
        else:
            args["server_settings"] = self._server_settings()
        return args

    def make_engine(self, url: URL | str, **overrides: Any) -> Engine:
        """Create a pooled psycopg engine for `url` with the project's pool settings."""
        s = self.settings
        options: dict[str, Any] = {
            "pool_size": s.db_pool_size,
            "max_overflow": s.db_max_overflow,
            "pool_timeout": s.db_pool_timeout,
            "pool_recycle": s.db_pool_recycle,
            "pool_pre_ping": True,
            "echo": s.sql_echo,
            "connect_args": self.sync_connect_args(),
        }
        options.update(overrides)
        engine = create_engine(with_driver(url, "psycopg"), **options)
        self._set_local_timeouts(engine)
        return engine

    def _set_local_timeouts(self, engine: Engine) -> None:
        # Behind a transaction-pooling PgBouncer, session settings would leak to other clients, so
        # the timeouts are set per transaction instead (one extra statement at the start of each).
        if not self.settings.db_pgbouncer:
            return
        s = self.settings
        statement_ms, idle_ms = s.db_statement_timeout_ms, s.db_idle_in_transaction_timeout_ms
        timeouts = (
            f"SELECT set_config('statement_timeout', '{statement_ms:d}', true),"
            f" set_config('idle_in_transaction_session_timeout', '{idle_ms:d}', true)"
        )

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql(timeouts)

    def make_replica_engine(self, url: URL | str) -> Engine:
        """Create the sync engine of a replica: a short connect timeout, so a hung one is skipped."""
        args = self.sync_connect_args()
        args["connect_timeout"] = max(2, math.ceil(self.settings.db_replica_connect_timeout))
        return self.make_engine(url, connect_args=args)

    @cached_property
    def engine(self) -> Engine:
        """The primary's sync engine (psycopg 3)."""
        return self.make_engine(self.url)

    @cached_property
    def SessionLocal(self) -> sessionmaker[Session]:
        """The sync session factory."""
        return sessionmaker(bind=self.engine, autoflush=False, expire_on_commit=False)

    @cached_property
    def async_engine(self) -> AsyncEngine:
        """The primary's async engine (asyncpg), on the same settings."""
        s = self.settings
        engine = create_async_engine(
            with_driver(self.url, "asyncpg"),
            pool_size=s.db_pool_size,
            max_overflow=s.db_max_overflow,
            pool_timeout=s.db_pool_timeout,
            pool_recycle=s.db_pool_recycle,
            pool_pre_ping=True,
            echo=s.sql_echo,
            connect_args=self.async_connect_args(),
        )
        self._set_local_timeouts(engine.sync_engine)
        return engine

    @cached_property
    def AsyncSessionLocal(self) -> async_sessionmaker[AsyncSession]:
        """The async session factory."""
        return async_sessionmaker(bind=self.async_engine, expire_on_commit=False)

    @cached_property
    def replicas(self) -> ReplicaSet:
        """The read replicas (`database_replica_urls`); empty when none are configured."""
        return ReplicaSet(self, [with_driver(u, "psycopg") for u in self.settings.database_replica_urls])

    @cached_property
    def ReadSessionLocal(self) -> sessionmaker[Session]:
        """The factory of read sessions: a replica until the session writes, then the primary."""
        return sessionmaker(
            class_=RoutingSession, database=self, bind=self.engine, autoflush=False, expire_on_commit=False
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
            return await self.create_asyncpg_pool(dsn)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            # Said once per failed opening (concurrent requests share one), so a database that
            # does not exist, or refuses the role, is not retried in silence.
            logger.error("cannot open the database pool on %s: %s", describe(self.url), exc)
            raise ServiceUnavailableError("The database is unavailable", retry_after=2) from exc

    async def create_asyncpg_pool(self, url: URL | str, **overrides: Any) -> asyncpg.Pool:
        """Open an asyncpg pool on `url` with the project's settings (`overrides` win)."""
        s = self.settings
        kwargs: dict[str, Any] = {
            "min_size": 1,
            "max_size": s.db_async_pool_size,
            "timeout": s.db_connect_timeout,
            "max_inactive_connection_lifetime": s.db_pool_recycle,
            # A client-side bound too, for when the server cannot even deliver its own timeout.
            "command_timeout": s.db_statement_timeout_ms / 1000 + 5 if s.db_statement_timeout_ms else None,
            "reset": release_without_reset,
            # Counts and times each statement for the request in progress (logs, slow statements).
            "connection_class": CountedConnection,
        }
        if s.db_pgbouncer:
            kwargs["statement_cache_size"] = 0
        else:
            kwargs["server_settings"] = self._server_settings()
        kwargs.update(overrides)
        pool: asyncpg.Pool = await asyncpg.create_pool(libpq_dsn(url), **kwargs)
        return pool

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """Borrow a connection of the primary's async pool, waiting at most the pool timeout.

        The rest of the request then reads from the primary too (it may have written).
        """
        mark_primary_used()
        async with self._acquire_primary() as conn:
            yield conn

    @asynccontextmanager
    async def acquire_read(self, *, min_lsn: str | None = None) -> AsyncIterator[asyncpg.Connection]:
        """Borrow a connection for a read-only statement (a replica when configured, else the primary).

        `min_lsn` is the WAL position the caller has seen (read-your-writes); a replica that has not
        replayed it yet is not used.
        """
        routing = current_routing()
        if not self.replicas or (routing is not None and routing.wrote):
            picked = None
        else:
            needed = parse_lsn(min_lsn)
            if routing is not None and routing.min_lsn is not None:
                needed = max(needed or 0, routing.min_lsn)
            picked = await self.replicas.acquire(needed)
        if picked is None:
            async with self._acquire_primary() as conn:
                yield conn
            return
        replica, conn = picked
        try:
            yield conn
        except _DIED_MID_FLIGHT as exc:
            replica.mark_down(exc)
            raise
        finally:
            await self.replicas.release(replica, conn)

    def _acquire_primary(self) -> _PrimaryConnection:
        """`async with`: a connection of the primary's pool (503 when none frees up in time)."""
        return _PrimaryConnection(self)

    async def current_lsn(self, conn: asyncpg.Connection | None = None) -> str:
        """Return the primary's current WAL position (after a commit: a read-your-writes token)."""
        if conn is not None:
            lsn: str = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
            return lsn
        async with self._acquire_primary() as primary:
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

    async def run_read(
        self, work: Callable[[asyncpg.Connection], Awaitable[T]], *, min_lsn: str | None = None
    ) -> T:
        """Run the read-only `work` on a read connection, once more on a fresh one if the first died.

        Only a connection lost mid-flight (server restart, terminated backend) is retried, and only
        once; `work` must not write, because a write may have been applied before the loss.
        """
        # Without replicas the primary is the only choice: skip the routing and its generator.
        source = self._acquire_primary if not self.replicas else partial(self.acquire_read, min_lsn=min_lsn)
        try:
            async with source() as conn:
                return await work(conn)
        except _DIED_MID_FLIGHT:
            pass
        async with source() as conn:
            return await work(conn)

    async def run_write(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `work` on a primary connection, once: `acquire()` for one statement, without its generator.

        The rest of the request then reads from the primary too.
        """
        mark_primary_used()
        async with self._acquire_primary() as conn:
            return await work(conn)

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
