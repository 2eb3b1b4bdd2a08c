"""Engines, sessions and the async pool of one PostgreSQL database, built from settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from pgbe import embedded
from pgbe.errors import ServiceUnavailableError
from pgbe.settings import PgbeSettings

T = TypeVar("T")
# Errors meaning the connection went away while a statement ran (server restart, terminated
# backend, broken socket): a read may safely run again on a fresh connection, a write may not.
_DIED_MID_FLIGHT = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    ConnectionError,
)


def resolve_url(settings: PgbeSettings) -> str:
    """Return the configured database URL, starting the embedded server when none is set."""
    if settings.database_url:
        return settings.database_url
    return embedded.start(Path(settings.embedded_data_dir))


def with_driver(url: str | URL, driver: str) -> URL:
    """Return `url` with the SQLAlchemy driver name replaced (`psycopg`, `asyncpg` or "")."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername=f"postgresql+{driver}" if driver else "postgresql")


def libpq_dsn(url: str | URL) -> str:
    """Return a plain `postgresql://` DSN for libpq-style clients (asyncpg, psql)."""
    return with_driver(url, "").render_as_string(hide_password=False)


def describe(url: str | URL) -> str:
    """Return the URL without its password, for logs."""
    return with_driver(url, "").render_as_string(hide_password=True)


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
        return create_engine(with_driver(url, "psycopg"), **options)

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
        return create_async_engine(
            with_driver(self.url, "asyncpg"),
            pool_size=s.db_pool_size,
            max_overflow=s.db_max_overflow,
            pool_timeout=s.db_pool_timeout,
            pool_recycle=s.db_pool_recycle,
            pool_pre_ping=True,
            echo=s.sql_echo,
            connect_args=self.async_connect_args(),
        )

    @cached_property
    def AsyncSessionLocal(self) -> async_sessionmaker[AsyncSession]:
        """The async session factory."""
        return async_sessionmaker(bind=self.async_engine, expire_on_commit=False)

    def session(self) -> Iterator[Session]:
        """Yield a session that is rolled back on error and always closed."""
        db = self.SessionLocal()
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        finally:
            db.close()

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
        s = self.settings
        kwargs: dict[str, Any] = {
            "min_size": 1,
            "max_size": s.db_async_pool_size,
            "timeout": s.db_connect_timeout,
            "max_inactive_connection_lifetime": s.db_pool_recycle,
            # A client-side bound too, for when the server cannot even deliver its own timeout.
            "command_timeout": s.db_statement_timeout_ms / 1000 + 5 if s.db_statement_timeout_ms else None,
        }
        if s.db_pgbouncer:
            kwargs["statement_cache_size"] = 0
        else:
            kwargs["server_settings"] = self._server_settings()
        try:
            pool: asyncpg.Pool = await asyncpg.create_pool(dsn, **kwargs)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            raise ServiceUnavailableError("The database is unavailable", retry_after=2) from exc
        return pool

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """Borrow a connection of the async pool, waiting at most the pool timeout."""
        pool = await self.pool()
        try:
            conn = await pool.acquire(timeout=self.settings.db_pool_timeout)
        except TimeoutError as exc:
            raise ServiceUnavailableError("All database connections are busy", retry_after=1) from exc
        try:
            yield conn
        finally:
            await pool.release(conn)

    @asynccontextmanager
    async def acquire_read(self, *, min_lsn: str | None = None) -> AsyncIterator[asyncpg.Connection]:
        """Borrow a connection for a read-only statement (a replica when configured, else the primary).

        `min_lsn` is the WAL position the caller has seen (read-your-writes); a replica that has not
        replayed it yet is not used.
        """
        del min_lsn
        async with self.acquire() as conn:
            yield conn

    async def run_read(
        self, work: Callable[[asyncpg.Connection], Awaitable[T]], *, min_lsn: str | None = None
    ) -> T:
        """Run the read-only `work` on a read connection, once more on a fresh one if the first died.

        Only a connection lost mid-flight (server restart, terminated backend) is retried, and only
        once; `work` must not write, because a write may have been applied before the loss.
        """
        try:
            async with self.acquire_read(min_lsn=min_lsn) as conn:
                return await work(conn)
        except _DIED_MID_FLIGHT:
            pass
        async with self.acquire_read(min_lsn=min_lsn) as conn:
            return await work(conn)

    async def close(self) -> None:
        """Close every pool this database opened."""
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
