"""How pgbe connects to a server: pool sizes and timeouts, spelled once for all three drivers.

A `ConnectionFactory` makes the psycopg engine (sync sessions), the async SQLAlchemy engine and the
asyncpg pool (generated endpoints) of one kind of server: the primary, or the replicas (a shorter
connect timeout, so a hung replica is skipped; asyncpg pools that connect only when first used).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from pgbe.db.urls import libpq_dsn, with_driver
from pgbe.observability.sql import CountedConnection
from pgbe.settings import PgbeSettings


async def release_without_reset(_: asyncpg.Connection) -> None:
    """Return a connection to the pool without asyncpg's reset query (a round trip per request).

    asyncpg still rolls back a transaction left open before this runs. pgbe's code leaves no other
    session state on a pooled connection (no SET outside a transaction, LISTEN, advisory lock or
    open cursor); code that does must undo it before releasing, or open its pool with `reset=None`.
    """


@dataclass(frozen=True)
class ConnectionFactory:
    """The engines and pools of one kind of server, all from the same settings."""

    settings: PgbeSettings
    connect_timeout: float
    # asyncpg pools open no connection until one is needed (a replica down at start-up costs nothing)
    lazy: bool = False

    @classmethod
    def primary(cls, settings: PgbeSettings) -> ConnectionFactory:
        """The factory of the primary's connections."""
        return cls(settings, connect_timeout=settings.db_connect_timeout)

    @classmethod
    def replica(cls, settings: PgbeSettings) -> ConnectionFactory:
        """The factory of the replicas' connections: a short connect timeout, lazy pools."""
        return cls(settings, connect_timeout=settings.db_replica_connect_timeout, lazy=True)

    def server_settings(self) -> dict[str, str]:
        """The session settings every connection starts with (unless behind PgBouncer)."""
        s = self.settings
        return {
            "statement_timeout": str(s.db_statement_timeout_ms),
            "idle_in_transaction_session_timeout": str(s.db_idle_in_transaction_timeout_ms),
            "application_name": s.project_name,
        }

    def pool_options(self) -> dict[str, Any]:
        """The options of SQLAlchemy's pool, the same for the sync and the async engine."""
        s = self.settings
        return {
            "pool_size": s.db_pool_size,
            "max_overflow": s.db_max_overflow,
            "pool_timeout": s.db_pool_timeout,
            "pool_recycle": s.db_pool_recycle,
            "pool_pre_ping": True,
            "echo": s.sql_echo,
        }

    def psycopg_args(self) -> dict[str, Any]:
        """Connection arguments for psycopg: timeouts, and no prepared statements behind PgBouncer."""
        # libpq counts whole seconds and treats anything below 2 as 2
        args: dict[str, Any] = {"connect_timeout": max(2, math.ceil(self.connect_timeout))}
        if self.settings.db_pgbouncer:
            args["prepare_threshold"] = None
        else:
            args["options"] = " ".join(f"-c {k}={v}" for k, v in self.server_settings().items())
        return args

    def asyncpg_args(self) -> dict[str, Any]:
        """Connection arguments for asyncpg through SQLAlchemy."""
        args: dict[str, Any] = {"timeout": self.connect_timeout}
        if self.settings.db_pgbouncer:
            args.update(statement_cache_size=0, prepared_statement_cache_size=0)
        else:
            args["server_settings"] = self.server_settings()
        return args

    def engine(self, url: URL | str, **overrides: Any) -> Engine:
        """Create a pooled psycopg engine on `url` (`overrides` win over the settings)."""
        options = {**self.pool_options(), "connect_args": self.psycopg_args(), **overrides}
        engine = create_engine(with_driver(url, "psycopg"), **options)
        self._set_local_timeouts(engine)
        return engine

    def async_engine(self, url: URL | str, **overrides: Any) -> AsyncEngine:
        """Create a pooled async SQLAlchemy engine (asyncpg) on `url`."""
        options = {**self.pool_options(), "connect_args": self.asyncpg_args(), **overrides}
        engine = create_async_engine(with_driver(url, "asyncpg"), **options)
        self._set_local_timeouts(engine.sync_engine)
        return engine

    async def pool(self, url: URL | str, **overrides: Any) -> asyncpg.Pool:
        """Open an asyncpg pool on `url` (`overrides` win over the settings)."""
        s = self.settings
        kwargs: dict[str, Any] = {
            "min_size": 0 if self.lazy else 1,
            "max_size": s.db_async_pool_size,
            "timeout": self.connect_timeout,
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
            kwargs["server_settings"] = self.server_settings()
        kwargs.update(overrides)
        pool: asyncpg.Pool = await asyncpg.create_pool(libpq_dsn(url), **kwargs)
        return pool

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


__all__ = ["ConnectionFactory", "release_without_reset"]
