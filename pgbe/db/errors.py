"""Translate database driver errors into the framework's error tree, in one place."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import TracebackType
from typing import Any

import asyncpg
from sqlalchemy import MetaData
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError

from pgbe.errors import (
    AppError,
    ConflictError,
    FilterTooCostlyError,
    GatewayTimeoutError,
    ServiceUnavailableError,
    ValidationError,
)

UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
# PostgreSQL 18 reports a delete blocked by an ON DELETE RESTRICT key as restrict_violation (23001);
# earlier versions, and NO ACTION keys, as foreign_key_violation "is still referenced".
RESTRICT_VIOLATION = "23001"
NOT_NULL_VIOLATION = "23502"
CHECK_VIOLATION = "23514"
SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
RETRYABLE_SQLSTATES = frozenset({SERIALIZATION_FAILURE, DEADLOCK_DETECTED})
QUERY_CANCELED = "57014"
# A write reached a server that only reads: a standby after a failover, or a primary set read-only.
READ_ONLY_SQL_TRANSACTION = "25006"
IDLE_IN_TRANSACTION_TIMEOUT = "25P03"
# Class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now),
# 53300 (too many connections).
UNAVAILABLE_PREFIXES = ("08", "57P0", "53300")
_DATA_EXCEPTION = "22"

_metadatas: list[MetaData] = []
_KEY_DETAIL = re.compile(r"Key \((?P<cols>[^)]*)\)=")


def register_metadata(metadata: MetaData) -> None:
    """Let error translation name the columns behind a constraint of this metadata."""
    if metadata not in _metadatas:
        _metadatas.append(metadata)


def sqlstate_of(exc: BaseException) -> str | None:
    """Return the SQLSTATE of a psycopg, asyncpg or SQLAlchemy-wrapped error."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(orig, "sqlstate", None)
    if state is None and orig is not None:
        cause = getattr(orig, "__cause__", None)
        state = getattr(cause, "sqlstate", None)
    return state if isinstance(state, str) else None


def _diag(exc: BaseException, name: str) -> str | None:
    orig: Any = exc.orig if isinstance(exc, DBAPIError) else exc
    for candidate in (orig, getattr(orig, "__cause__", None)):
        if candidate is None:
            continue
        value = getattr(candidate, name, None)
        diag = getattr(candidate, "diag", None)
        if value is None and diag is not None:
            value = getattr(diag, name, None)
        if isinstance(value, str):
            return value
    return None


def _constraint_field(constraint: str | None, detail: str | None) -> str | None:
    if detail and (match := _KEY_DETAIL.search(detail)):
        return match.group("cols").replace(" ", "")
    if constraint:
        for metadata in _metadatas:
            for table in metadata.tables.values():
                for con in table.constraints:
                    if con.name == constraint:
                        cols = [c.name for c in getattr(con, "columns", [])]
                        if cols:
                            return ",".join(cols)
                for index in table.indexes:
                    if index.name == constraint:
                        return ",".join(c.name for c in index.columns)
    return None


def is_connection_error(exc: BaseException) -> bool:
    """Tell whether the error means the database could not be reached or went away."""
    state = sqlstate_of(exc)
    if state and state.startswith(UNAVAILABLE_PREFIXES):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, PoolTimeoutError | ConnectionError | OSError):
        return True
    name = type(exc).__name__
    return name in {"ConnectionDoesNotExistError", "InterfaceError", "OperationalError"} and state is None


class StatementBudgetExceeded(Exception):
    """A statement ran past the time budget its caller gave it (asyncpg `timeout=`), and was cancelled.

    asyncpg sends the server a cancel request (which answers query_canceled, 57014, on the
    connection) and raises TimeoutError; the caller that set the budget raises this from it, so
    that it is not taken for the pool-wide bound (504).
    """

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field  # the request's parameter behind the cost, named in the answer


def translate(exc: BaseException) -> AppError | None:
    """Return the framework error for a driver error, or None when it is not a known kind."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, StaleDataError):  # an ORM update or delete matched no row at the loaded version
        return ConflictError("The row was changed or deleted by someone else; reload it and retry")
    if isinstance(exc, StatementBudgetExceeded):  # 4xx: retried as it is, it would cost as much again
        return FilterTooCostlyError(exc.detail, field=exc.field)
    return _translate_driver_error(exc)


# What a block of database work may raise that `translated` turns into the framework's errors.
DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    DBAPIError,
    StaleDataError,
    asyncpg.PostgresError,
    StatementBudgetExceeded,
)


class ErrorTranslation:
    """`with translated():` a driver error leaving the block is raised as the framework's error, from it.

    Errors of no known kind leave unchanged (the HTTP layer answers them 500). `adapt` may rewrite
    the translated error, for instance to name the request field behind a column. An instance holds
    no state of a call, so one made at start-up serves every request.
    """

    __slots__ = ("adapt",)

    def __init__(self, adapt: Callable[[AppError], AppError] | None = None) -> None:
        self.adapt = adapt

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or not isinstance(exc, DRIVER_ERRORS):
            return
        error = translate(exc)
        if error is None:
            return
        if self.adapt is not None:
            error = self.adapt(error)
        raise error from exc


_TRANSLATED = ErrorTranslation()


def translated(adapt: Callable[[AppError], AppError] | None = None) -> ErrorTranslation:
    """Return the context manager that translates driver errors (`adapt` rewrites what it raises)."""
    return _TRANSLATED if adapt is None else ErrorTranslation(adapt)


# SQLSTATEs whose error needs nothing from the exception: one row each.
_BY_STATE: dict[str, Callable[[], AppError]] = {
    READ_ONLY_SQL_TRANSACTION: lambda: ServiceUnavailableError(
        "The database accepts no writes at the moment", retry_after=5
    ),
    QUERY_CANCELED: lambda: GatewayTimeoutError("The database did not answer in time", retry_after=1),
    IDLE_IN_TRANSACTION_TIMEOUT: lambda: GatewayTimeoutError(
        "The database did not answer in time", retry_after=1
    ),
    **{
        state: lambda: ConflictError("The request conflicted with a concurrent one; retry it")
        for state in RETRYABLE_SQLSTATES
    },
}


def _translate_driver_error(exc: BaseException) -> AppError | None:
    state = sqlstate_of(exc)
    constraint = _diag(exc, "constraint_name")
    detail = _diag(exc, "message_detail") or _diag(exc, "detail")
    if state == UNIQUE_VIOLATION:
        field = _constraint_field(constraint, detail)
        what = f" on {field}" if field else ""
        return ConflictError(f"A row with the same value{what} already exists", field=field)
    if state in (FOREIGN_KEY_VIOLATION, RESTRICT_VIOLATION):
        field = _constraint_field(constraint, detail)
        if state == RESTRICT_VIOLATION or (detail and "is still referenced" in detail):
            return ConflictError("The row is still referenced by other rows", field=field)
        return ConflictError(f"The referenced row does not exist ({field or 'foreign key'})", field=field)
    if state == NOT_NULL_VIOLATION:
        column = _diag(exc, "column_name")
        return ValidationError(f"A value is required for {column or 'a column'}", field=column)
    if state == CHECK_VIOLATION:
        return ValidationError(f"A value breaks the rule {constraint or 'of a check constraint'}")
    if state and state.startswith(_DATA_EXCEPTION):
        return ValidationError("A value is out of range or malformed for its column")
    if state in _BY_STATE:
        return _BY_STATE[state]()
    if isinstance(exc, PoolTimeoutError):
        return ServiceUnavailableError("All database connections are busy", retry_after=1)
    if isinstance(exc, TimeoutError):  # the client-side bound (asyncpg command_timeout)
        return GatewayTimeoutError("The database did not answer in time", retry_after=1)
    if is_connection_error(exc):
        return ServiceUnavailableError("The database is unavailable", retry_after=2)
    return None


__all__ = [
    "CHECK_VIOLATION",
    "DEADLOCK_DETECTED",
    "DRIVER_ERRORS",
    "FOREIGN_KEY_VIOLATION",
    "IDLE_IN_TRANSACTION_TIMEOUT",
    "NOT_NULL_VIOLATION",
    "QUERY_CANCELED",
    "READ_ONLY_SQL_TRANSACTION",
    "RETRYABLE_SQLSTATES",
    "SERIALIZATION_FAILURE",
    "UNAVAILABLE_PREFIXES",
    "UNIQUE_VIOLATION",
    "ErrorTranslation",
    "StatementBudgetExceeded",
    "is_connection_error",
    "register_metadata",
    "sqlstate_of",
    "translate",
    "translated",
]
