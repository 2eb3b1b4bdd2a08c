"""Coerce query-string values to the Python type of a column, refusing what PostgreSQL would refuse."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Uuid,
)
from sqlalchemy.types import TypeEngine

MAX_TEXT_CHARS = 1000
_INT = re.compile(r"[+-]?\d{1,20}")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

Coercer = Callable[[str], Any]


def _int_range(bits: int) -> Coercer:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def coerce(raw: str) -> int:
        if not _INT.fullmatch(raw):
            raise ValueError("not an integer")
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(f"out of range ({low} to {high})")
        return value

    return coerce


def parse_bool(raw: str) -> bool:
    """Parse true/false (also 1/0, yes/no)."""
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("not a boolean (true or false)")


def parse_text(raw: str) -> str:
    """Accept text without NUL characters, at most MAX_TEXT_CHARS long."""
    if "\x00" in raw:
        raise ValueError("must not contain NUL characters")
    if len(raw) > MAX_TEXT_CHARS:
        raise ValueError(f"longer than {MAX_TEXT_CHARS} characters")
    return raw


def _decimal(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not value.is_finite():
        raise ValueError("not a finite number")
    return value


def _float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _datetime(raw: str) -> datetime:
    value = datetime.fromisoformat(raw)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _date(raw: str) -> date:
    return date.fromisoformat(raw)


def _uuid(raw: str) -> uuid.UUID:
    return uuid.UUID(raw)


def coercer_for(sa_type: TypeEngine[Any]) -> Coercer:
    """Return the coercion of query-string text to values of `sa_type`; TypeError if unsupported."""
    rules: list[tuple[type[TypeEngine[Any]], Coercer]] = [
        (Boolean, parse_bool),
        (SmallInteger, _int_range(16)),
        (BigInteger, _int_range(64)),
        (Integer, _int_range(32)),
        (Float, _float),
        (Numeric, _decimal),
        (DateTime, _datetime),
        (Date, _date),
        (Uuid, _uuid),
        (String, parse_text),
    ]
    for kind, coerce in rules:
        if isinstance(sa_type, kind):
            return coerce
    raise TypeError(f"cannot filter on a column of type {sa_type!r}")


def escape_like(value: str) -> str:
    r"""Escape LIKE wildcards so `value` matches literally (escape character `\`)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
