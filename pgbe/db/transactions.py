"""Atomic blocks and retried transactions: sync sessions, and asyncpg connections of the async pool."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import asyncpg
from sqlalchemy.orm import Session

from pgbe.db.errors import RETRYABLE_SQLSTATES, sqlstate_of, translated

if TYPE_CHECKING:
    from pgbe.db.database import Database

T = TypeVar("T")
_DEPTH = "pgbe_atomic_depth"


def in_atomic(db: Session) -> bool:
    """Tell whether `db` is inside an `atomic` block, where writes flush instead of commit."""
    return bool(db.info.get(_DEPTH))


@contextmanager
def atomic(db: Session) -> Iterator[Session]:
    """Run a block as one transaction: controller writes inside it commit together or not at all."""
    depth = db.info.get(_DEPTH, 0)
    db.info[_DEPTH] = depth + 1
    try:
        with translated():
            yield db
            if depth == 0:
                db.commit()
    except BaseException:
        if depth == 0:
            db.rollback()
        raise
    finally:
        db.info[_DEPTH] = depth


def commit_or_flush(db: Session) -> None:
    """Commit, or only flush inside an `atomic` block; translate driver errors once."""
    nested = in_atomic(db)
    try:
        with translated():
            if nested:
                db.flush()
            else:
                db.commit()
    except BaseException:
        if not nested:
            db.rollback()
        raise


def run_in_transaction(
    session_factory: Callable[[], Session],
    work: Callable[[Session], T],
    *,
    retries: int = 3,
    backoff: float = 0.02,
) -> T:
    """Run `work` in a fresh session and transaction, retrying serialization failures and deadlocks."""
    attempt = 0
    while True:
        with session_factory() as db:
            try:
                with atomic(db):
                    return work(db)
            except Exception as exc:
                cause = exc.__cause__ if exc.__cause__ is not None else exc
                if sqlstate_of(cause) in RETRYABLE_SQLSTATES and attempt < retries:
                    attempt += 1
                    time.sleep(_pause(backoff, attempt))
                    continue
                raise


def _pause(backoff: float, attempt: int) -> float:
    pause: float = backoff * (2**attempt) * (0.5 + random.random())  # noqa: S311 - jitter, not security
    return pause


async def run_in_transaction_async(
    database: Database,
    work: Callable[[asyncpg.Connection], Awaitable[T]],
    *,
    isolation: str = "read_committed",
    retries: int = 3,
    backoff: float = 0.02,
) -> T:
    """Run `work` in a transaction on a primary connection, retrying serialization failures and deadlocks.

    Each attempt is a new transaction; `work` must do nothing outside the database that it cannot repeat.
    Other driver errors, and the last retryable one, are raised translated (409 for a conflict).
    """
    attempt = 0
    with translated():
        while True:
            try:
                async with database.acquire() as conn, conn.transaction(isolation=isolation):
                    return await work(conn)
            except asyncpg.PostgresError as exc:
                if exc.sqlstate in RETRYABLE_SQLSTATES and attempt < retries:
                    attempt += 1
                    await asyncio.sleep(_pause(backoff, attempt))
                    continue
                raise


__all__ = ["atomic", "commit_or_flush", "in_atomic", "run_in_transaction", "run_in_transaction_async"]
