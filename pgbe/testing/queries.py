"""Count the SQL statements a block of code runs, on asyncpg connections and sync engines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState, Session, raiseload

# Connection methods that send a statement; asyncpg's own type introspection (once per connection
# and type) is not a statement of the request and is not counted.
_STATEMENT_METHODS = frozenset(
    {
        "execute",
        "executemany",
        "fetch",
        "fetchrow",
        "fetchval",
        "fetchmany",
        "copy_from_query",
        "copy_from_table",
        "copy_records_to_table",
        "copy_to_table",
    }
)


class QueryCounter:
    """The statements seen since the last `reset()`."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        """How many statements ran."""
        return len(self.statements)

    def reset(self) -> None:
        """Forget the statements seen so far."""
        self.statements.clear()

    def record(self, sql: str) -> None:
        """Count one statement."""
        self.statements.append(sql)

    def _sync_listener(self, *args: Any) -> None:
        self.record(args[2])

    def wrap(self, conn: asyncpg.Connection) -> CountingConnection:
        """Return `conn` with every statement it runs counted here."""
        return CountingConnection(conn, self)

    @contextmanager
    def watch_engine(self, engine: Engine) -> Iterator[QueryCounter]:
        """Count the statements a sync engine runs inside this block."""
        event.listen(engine, "before_cursor_execute", self._sync_listener)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", self._sync_listener)


class _CountingTransaction:
    def __init__(self, transaction: Any, counter: QueryCounter) -> None:
        self._transaction = transaction
        self._counter = counter

    async def start(self) -> None:
        self._counter.record("BEGIN")
        await self._transaction.start()

    async def commit(self) -> None:
        self._counter.record("COMMIT")
        await self._transaction.commit()

    async def rollback(self) -> None:
        self._counter.record("ROLLBACK")
        await self._transaction.rollback()

    async def __aenter__(self) -> _CountingTransaction:
        await self.start()
        return self

    async def __aexit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            await self.commit()
        else:
            await self.rollback()


class _CountingStatement:
    """A prepared statement proxy whose runs are counted as statements."""

    def __init__(self, statement: Any, query: str, counter: QueryCounter) -> None:
        self._statement = statement
        self._query = query
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._statement, name)
        if name not in _STATEMENT_METHODS:
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            self._counter.record(self._query)
            return await attr(*args, **kwargs)

        return call


class CountingConnection:
    """An asyncpg connection proxy that counts statements (transaction control included)."""

    def __init__(self, conn: asyncpg.Connection, counter: QueryCounter) -> None:
        self._conn = conn
        self._counter = counter

    def transaction(self, **kwargs: Any) -> _CountingTransaction:
        """Return a transaction whose BEGIN / COMMIT / ROLLBACK are counted."""
        return _CountingTransaction(self._conn.transaction(**kwargs), self._counter)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._conn, name)
        if name == "prepare":
            return self._prepare
        if name not in _STATEMENT_METHODS:
            return attr
        return self._counted(attr)

    async def _prepare(self, query: str, *args: Any, **kwargs: Any) -> _CountingStatement:
        """Prepare `query`; each run of the prepared statement is counted, the preparation is not."""
        return _CountingStatement(await self._conn.prepare(query, *args, **kwargs), query, self._counter)

    def _counted(self, method: Callable[..., Any]) -> Callable[..., Any]:
        async def call(query: str, *args: Any, **kwargs: Any) -> Any:
            self._counter.record(query)
            return await method(query, *args, **kwargs)

        return call


@contextmanager
def count_queries(*engines: Engine) -> Iterator[QueryCounter]:
    """Count the statements run on the sync `engines` inside the block.

    ```python
    with count_queries(engine) as queries:
        product_controller.get_page(db, products.spec, params)
    assert queries.count == 2
    ```
    For asyncpg, run the code on `QueryCounter().wrap(conn)` (the `api` fixture does this).
    """
    counter = QueryCounter()
    with _watching(counter, engines):
        yield counter


@contextmanager
def _watching(counter: QueryCounter, engines: tuple[Engine, ...]) -> Iterator[None]:
    if not engines:
        yield
        return
    with counter.watch_engine(engines[0]), _watching(counter, engines[1:]):
        yield


@contextmanager
def no_lazy_loads(session: Session) -> Iterator[None]:
    """Make any lazy load of a relationship inside the block raise, so an N+1 fails the test.

    Relationships loaded eagerly (`selectinload`, `joinedload`, `get_page(... include ...)`) work.
    """

    def forbid(state: ORMExecuteState) -> None:
        if state.is_select and not state.is_relationship_load and not state.is_column_load:
            state.statement = state.statement.options(raiseload("*"))

    event.listen(session, "do_orm_execute", forbid)
    try:
        yield
    finally:
        event.remove(session, "do_orm_execute", forbid)
