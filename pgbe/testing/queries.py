"""Count the SQL statements a block of code runs, on asyncpg connections and sync engines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy import Engine, event


class QueryCounter:
    """The statements seen since the last `reset()`, except those run while `paused()`."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self._paused = 0

    @property
    def count(self) -> int:
        """How many statements ran."""
        return len(self.statements)

    def reset(self) -> None:
        """Forget the statements seen so far."""
        self.statements.clear()

    def record(self, sql: str) -> None:
        """Count one statement."""
        if not self._paused:
            self.statements.append(sql)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Do not count the statements of this block (a test harness's own savepoints)."""
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1

    def _asyncpg_logger(self, query: Any) -> None:
        self.record(query.query)

    def _sync_listener(self, *args: Any) -> None:
        self.record(args[2])

    @contextmanager
    def watch_asyncpg(self, conn: asyncpg.Connection) -> Iterator[QueryCounter]:
        """Count the statements `conn` runs inside this block."""
        conn.add_query_logger(self._asyncpg_logger)
        try:
            yield self
        finally:
            conn.remove_query_logger(self._asyncpg_logger)

    @contextmanager
    def watch_engine(self, engine: Engine) -> Iterator[QueryCounter]:
        """Count the statements a sync engine runs inside this block."""
        event.listen(engine, "before_cursor_execute", self._sync_listener)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", self._sync_listener)


@contextmanager
def count_queries(
    *, engines: tuple[Engine, ...] = (), connections: tuple[asyncpg.Connection, ...] = ()
) -> Iterator[QueryCounter]:
    """Count the statements run on `engines` and asyncpg `connections` inside the block.

    ```python
    with count_queries(engines=(engine,)) as queries:
        product_controller.list(db, params)
    assert queries.count == 2
    ```
    """
    counter = QueryCounter()
    with _watching(counter, engines, connections):
        yield counter


@contextmanager
def _watching(
    counter: QueryCounter, engines: tuple[Engine, ...], connections: tuple[asyncpg.Connection, ...]
) -> Iterator[None]:
    if engines:
        with counter.watch_engine(engines[0]), _watching(counter, engines[1:], connections):
            yield
    elif connections:
        with counter.watch_asyncpg(connections[0]), _watching(counter, (), connections[1:]):
            yield
    else:
        yield
