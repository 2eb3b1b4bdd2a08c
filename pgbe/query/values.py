"""Coerce query-string values to the Python type of a column, refusing what PostgreSQL would refuse."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

Coercer = Callable[[str], Any]


def _digit_class(low: int, high: int) -> str:
    return str(low) if low == high else f"[{low}-{high}]"


def _one_to(n: int) -> str:
    """A regular expression matching the decimal integers 1 to `n` (n >= 1), without leading zeros."""
    digits = str(n)
    width = len(digits)
    parts = [f"[1-9][0-9]{{0,{width - 2}}}"] if width > 1 else []
    for i, digit in enumerate(digits):
        low, high = (1 if i == 0 else 0), int(digit) - 1
        if high >= low:
            rest = width - i - 1
            parts.append(digits[:i] + _digit_class(low, high) + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(digits)
    return "|".join(parts)


def integer_pattern(bits: int) -> str:
    """A regular expression matching exactly the integers of a `bits`-bit column, written plainly.

    The parser accepts this and nothing else, and OpenAPI documents it for lists of values, so the
    documentation cannot accept a value the parser refuses (or the other way round).
    """
    high = 2 ** (bits - 1) - 1
    return f"(0|{_one_to(high)}|-({_one_to(high + 1)}))"


def _int_range(bits: int) -> Coercer:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    lexical = re.compile(r"-?[0-9]{1,20}")
    exact = re.compile(integer_pattern(bits))

    def coerce(raw: str) -> int:
        if not lexical.fullmatch(raw):
            raise ValueError("not an integer")
        if not exact.fullmatch(raw):
            raise ValueError(f"out of range ({low} to {high}) or written with leading zeros")
        return int(raw)

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


NO_NUL = r"^[^\u0000]*$"
"""Text PostgreSQL accepts (no NUL character), as a JSON Schema (ECMA-262) pattern."""
_ITEM = r"[^,\u0000]+"


@dataclass(frozen=True, slots=True)
class ValueType:
    """How query-string text becomes a value of one column type, and how OpenAPI describes it.

    `item` is the pattern of one value in a comma-separated list (exact for integers and text);
    `low` / `high` bound integers; `python` is the type OpenAPI shows for a single value.
    """

    coerce: Coercer
    python: type
    item: str = _ITEM
    low: int | None = None
    high: int | None = None
    max_length: int | None = None


def _integer(bits: int) -> ValueType:
    return ValueType(
        _int_range(bits), int, integer_pattern(bits), low=-(2 ** (bits - 1)), high=2 ** (bits - 1) - 1
    )


_TEXT = ValueType(parse_text, str, rf"[^,\u0000]{{1,{MAX_TEXT_CHARS}}}", max_length=MAX_TEXT_CHARS)
_RULES: list[tuple[type[TypeEngine[Any]], ValueType]] = [
    (Boolean, ValueType(parse_bool, bool)),
    (SmallInteger, _integer(16)),
    (BigInteger, _integer(64)),
    (Integer, _integer(32)),
    (Float, ValueType(_float, float)),
    (Numeric, ValueType(_decimal, float)),
    (DateTime, ValueType(_datetime, datetime)),
    (Date, ValueType(_date, date)),
    (Uuid, ValueType(_uuid, uuid.UUID, "[0-9a-fA-F-]{32,36}")),
    (String, _TEXT),
]


def value_type(sa_type: TypeEngine[Any]) -> ValueType:
    """Return the value type of query-string text for `sa_type`; TypeError if unsupported."""
    for kind, rule in _RULES:
        if isinstance(sa_type, kind):
            return rule
    raise TypeError(f"cannot filter on a column of type {sa_type!r}")


def escape_like(value: str) -> str:
    r"""Escape LIKE wildcards so `value` matches literally (escape character `\`)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
