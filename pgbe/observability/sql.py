"""SQL statements counted and timed per request, and the slow ones logged, for both drivers.

asyncpg: the pools open `CountedConnection`s (`Database.create_asyncpg_pool`), whose query methods
time each statement. SQLAlchemy (the guide's sync Session, `get_async_db`): cursor events on every
engine. Both add to the request in progress and log statements slower than `slow_sql_ms`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import asyncpg
from sqlalchemy import Engine, event

from pgbe.observability.context import current_request

logger = logging.getLogger("pgbe.sql")
_MAX_LOGGED_SQL = 2000


class SlowStatements:
    """The threshold above which a statement is logged (seconds; None: never)."""

    threshold: float | None = 0.5


def configure(*, slow_ms: float) -> None:
    """Log statements slower than `slow_ms` milliseconds (0: none); count every statement."""
    SlowStatements.threshold = slow_ms / 1000 if slow_ms > 0 else None
    _listen_to_engines()


def record(sql: str, seconds: float) -> None:
    """Count a statement in the request in progress; log it when it was slow."""
    context = current_request()
    if context is not None:
        context.sql_count += 1
        context.sql_seconds += seconds
    threshold = SlowStatements.threshold
    if threshold is not None and seconds >= threshold:
        logger.warning(
            "slow statement",
            extra={"fields": {"duration_ms": round(seconds * 1000, 2), "sql": sql[:_MAX_LOGGED_SQL]}},
        )


class CountedConnection(asyncpg.Connection):  # type: ignore[misc]
    """An asyncpg connection whose statements are counted and timed for the request in progress."""

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        """Run `query` (asyncpg's `execute`), timed."""
        start = time.perf_counter()
        try:
            result: str = await super().execute(query, *args, timeout=timeout)
            return result
        finally:
            record(query, time.perf_counter() - start)

    async def executemany(self, command: str, args: Any, *, timeout: float | None = None) -> None:
        """Run `command` for each set of `args` (asyncpg's `executemany`), timed as one statement."""
        start = time.perf_counter()
        try:
            await super().executemany(command, args, timeout=timeout)
        finally:
            record(command, time.perf_counter() - start)

    async def fetch(self, query: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Return every row of `query` (asyncpg's `fetch`), timed."""
        start = time.perf_counter()
        try:
            return await super().fetch(query, *args, timeout=timeout, **kwargs)
        finally:
            record(query, time.perf_counter() - start)

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Return the first row of `query` (asyncpg's `fetchrow`), timed."""
        start = time.perf_counter()
        try:
            return await super().fetchrow(query, *args, timeout=timeout, **kwargs)
        finally:
            record(query, time.perf_counter() - start)

    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any:
        """Return one value of `query` (asyncpg's `fetchval`), timed."""
        start = time.perf_counter()
        try:
            return await super().fetchval(query, *args, column=column, timeout=timeout)
        finally:
            record(query, time.perf_counter() - start)


_STARTED = "pgbe_statement_started"


def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    del cursor, statement, parameters, context, executemany
    conn.info.setdefault(_STARTED, []).append(time.perf_counter())


def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    del cursor, parameters, context, executemany
    started = conn.info.get(_STARTED)
    if started:
        record(statement, time.perf_counter() - started.pop())


def _error(context: Any) -> None:
    started = context.connection.info.get(_STARTED) if context.connection is not None else None
    if started:
        record(context.statement or "", time.perf_counter() - started.pop())


def _listen_to_engines() -> None:
    """Listen to every SQLAlchemy engine (those of async engines included), once."""
    if not event.contains(Engine, "before_cursor_execute", _before):
        event.listen(Engine, "before_cursor_execute", _before)
        event.listen(Engine, "after_cursor_execute", _after)
        event.listen(Engine, "handle_error", _error)
