"""The filter operators: one row each, from which the parser, the SQL and the OpenAPI are derived.

A row says how a query-string value is parsed (`parse`), which condition it becomes (`condition`)
and how the parameter is documented (`document`), so the three cannot disagree. To add an operator,
add a row to `OPERATORS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, any_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeEngine

from pgbe.query.values import NO_NUL, ValueType, escape_like, parse_bool

MAX_IN_VALUES = 1000
# A LIKE pattern costs per row in proportion to its length, and a trigram index reads one posting list
# per three characters: 1,000 characters made a 900 ms query on a million rows. Searches are short.
MAX_PATTERN_CHARS = 100
# `%` and `_` match literally (escaped), so a real search holds one or two ("50%", "snake_case"); a text
# made of them has no trigram, hence scans every row, and is refused past this many.
MAX_PATTERN_WILDCARDS = 10
_WILDCARDS = frozenset("%_")
# No NUL, at most MAX_PATTERN_WILDCARDS of `%` and `_`, as a JSON Schema (ECMA-262) pattern.
SEARCH_TEXT = rf"^[^%_\u0000]*([%_][^%_\u0000]*){{0,{MAX_PATTERN_WILDCARDS}}}$"
LIKE_ESCAPE = "\\"

Parse = Callable[[ValueType, str], Any]
Condition = Callable[[Any, Any], ColumnElement[bool]]  # (column or attribute, bound value)


@dataclass(frozen=True, slots=True)
class Document:
    """How OpenAPI shows one filter parameter: its type, description and constraints."""

    annotation: Any
    description: str
    pattern: str | None = None
    low: int | None = None
    high: int | None = None
    max_length: int | None = None


@dataclass(frozen=True, slots=True)
class Operator:
    """One filter operator: `name__<op>=value` (`eq` is written `name=value`)."""

    name: str
    parse: Parse
    condition: Condition
    document: Callable[[str, ValueType], Document]
    text_only: bool = False
    binds: bool = True  # False: the value is part of the SQL text (isnull), hence of the shape
    variant: Callable[[Any], str] | None = None  # the part of the statement's shape the value decides
    # A substring search: no B-tree bounds its cost, so its list gets a time budget and a slot
    # (`pgbe.resources.costly`).
    costly: bool = False

    def key(self, field: str) -> str:
        """The query parameter of this operator on `field`."""
        return field if self.name == "eq" else f"{field}__{self.name}"

    def bind_type(self, sa_type: TypeEngine[Any]) -> TypeEngine[Any]:
        """The SQL type of the bound value."""
        return ARRAY(sa_type) if self.name == "in" else sa_type


def csv_pattern(item: str) -> str:
    """A pattern for a comma-separated list of `item` (no empty item)."""
    return f"^{item}(,{item})*$"


def _scalar(verb: str) -> Callable[[str, ValueType], Document]:
    def document(field: str, vt: ValueType) -> Document:
        text = vt.python is str
        return Document(
            vt.python,
            f"Rows whose {field} {verb} the value",
            pattern=NO_NUL if text else None,
            low=vt.low,
            high=vt.high,
            max_length=vt.max_length,
        )

    return document


def _parse_value(vt: ValueType, raw: str) -> Any:
    return vt.coerce(raw)


def _parse_in(vt: ValueType, raw: str) -> list[Any]:
    items = raw.split(",")
    if any(not item for item in items):
        raise ValueError("empty item in a comma-separated list")
    if len(items) > MAX_IN_VALUES:
        raise ValueError(f"at most {MAX_IN_VALUES} values")
    return [vt.coerce(item) for item in items]


def _document_in(field: str, vt: ValueType) -> Document:
    return Document(
        str,
        f"Rows whose {field} is one of these comma-separated values (at most {MAX_IN_VALUES})",
        pattern=csv_pattern(vt.item),
    )


def _like(pattern: Callable[[str], str]) -> Parse:
    def parse(vt: ValueType, raw: str) -> str:
        if len(raw) > MAX_PATTERN_CHARS:
            raise ValueError(f"a search text is at most {MAX_PATTERN_CHARS} characters")
        if sum(char in _WILDCARDS for char in raw) > MAX_PATTERN_WILDCARDS:
            raise ValueError(f"a search text holds at most {MAX_PATTERN_WILDCARDS} % or _ characters")
        return pattern(escape_like(vt.coerce(raw)))

    return parse


def _document_text(verb: str) -> Callable[[str, ValueType], Document]:
    def document(field: str, vt: ValueType) -> Document:
        del vt
        return Document(
            str,
            f"Rows whose {field} {verb} the text (% and _ match literally, at most"
            f" {MAX_PATTERN_WILDCARDS} of them; at most {MAX_PATTERN_CHARS} characters)",
            pattern=SEARCH_TEXT,
            max_length=MAX_PATTERN_CHARS,
        )

    return document


_TRIGRAM = re.compile(r"[^\W_]{3}")


def has_trigram(text: str) -> bool:
    """Tell whether a trigram index can look `text` up: it holds three letters or digits in a row."""
    return _TRIGRAM.search(text) is not None


def _scan_variant(pattern: str) -> str:
    return "" if has_trigram(pattern) else ":scan"


def _substring(*, ignore_case: bool) -> Condition:
    """LIKE / ILIKE '%text%'; a text without a trigram is matched on `column || ''`, which no index serves.

    pg_trgm answers such a pattern with a scan of the whole index and a recheck of every row, which
    the planner does not foresee: on a million rows 1.0 s for `%_`, 2.3 s for 100 characters of it,
    against 0.36 s for the sequential scan this forces.
    """

    def condition(column: Any, pattern: Any) -> ColumnElement[bool]:
        raw = getattr(pattern, "value", pattern)  # the builder passes a bound parameter holding it
        target = column if isinstance(raw, str) and has_trigram(raw) else column.concat("")
        result: ColumnElement[bool] = (
            target.ilike(pattern, escape=LIKE_ESCAPE)
            if ignore_case
            else target.like(pattern, escape=LIKE_ESCAPE)
        )
        return result

    return condition


def _parse_isnull(vt: ValueType, raw: str) -> bool:
    del vt
    return parse_bool(raw)


def _document_isnull(field: str, vt: ValueType) -> Document:
    del vt
    return Document(bool, f"true: rows without a {field}; false: rows with one")


def _isnull(column: Any, value: Any) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = column.is_(None) if value else column.is_not(None)
    return condition


_ROWS = [
    Operator("eq", _parse_value, lambda c, p: c == p, _scalar("equals")),
    Operator("ne", _parse_value, lambda c, p: c.is_distinct_from(p), _scalar("differs from")),
    Operator("gt", _parse_value, lambda c, p: c > p, _scalar("is greater than")),
    Operator("gte", _parse_value, lambda c, p: c >= p, _scalar("is at least")),
    Operator("lt", _parse_value, lambda c, p: c < p, _scalar("is less than")),
    Operator("lte", _parse_value, lambda c, p: c <= p, _scalar("is at most")),
    Operator("in", _parse_in, lambda c, p: c == any_(p), _document_in),
    Operator(
        "contains",
        _like(lambda v: f"%{v}%"),
        _substring(ignore_case=False),
        _document_text("contains"),
        text_only=True,
        variant=_scan_variant,
        costly=True,
    ),
    Operator(
        "startswith",
        _like(lambda v: f"{v}%"),
        lambda c, p: c.like(p, escape=LIKE_ESCAPE),
        _document_text("starts with"),
        text_only=True,
    ),
    Operator(
        "icontains",
        _like(lambda v: f"%{v}%"),
        _substring(ignore_case=True),
        _document_text("contains, ignoring case,"),
        text_only=True,
        variant=_scan_variant,
        costly=True,
    ),
    Operator("isnull", _parse_isnull, _isnull, _document_isnull, binds=False),
]
OPERATORS: dict[str, Operator] = {op.name: op for op in _ROWS}
TEXT_OPERATORS = frozenset(op.name for op in _ROWS if op.text_only)
