"""The filter operators: one row each, from which the parser, the SQL and the OpenAPI are derived.

A row says how a query-string value is parsed (`parse`), which condition it becomes (`condition`)
and how the parameter is documented (`document`), so the three cannot disagree. To add an operator,
add a row to `OPERATORS`.
"""

from __future__ import annotations

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

    def key(self, field: str) -> str:
        """The query parameter of this operator on `field`."""
        return field if self.name == "eq" else f"{field}__{self.name}"

    def bind_type(self, sa_type: TypeEngine[Any]) -> TypeEngine[Any]:
        """The SQL type of the bound value."""
        return ARRAY(sa_type) if self.name == "in" else sa_type


def _csv_pattern(item: str) -> str:
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
        pattern=_csv_pattern(vt.item),
    )


def _like(pattern: Callable[[str], str]) -> Parse:
    def parse(vt: ValueType, raw: str) -> str:
        if len(raw) > MAX_PATTERN_CHARS:
            raise ValueError(f"a search text is at most {MAX_PATTERN_CHARS} characters")
        return pattern(escape_like(vt.coerce(raw)))

    return parse


def _document_text(verb: str) -> Callable[[str, ValueType], Document]:
    def document(field: str, vt: ValueType) -> Document:
        del vt
        return Document(
            str,
            f"Rows whose {field} {verb} the text (% and _ match literally; at most {MAX_PATTERN_CHARS}"
            " characters)",
            pattern=NO_NUL,
            max_length=MAX_PATTERN_CHARS,
        )

    return document


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
        lambda c, p: c.like(p, escape=LIKE_ESCAPE),
        _document_text("contains"),
        text_only=True,
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
        lambda c, p: c.ilike(p, escape=LIKE_ESCAPE),
        _document_text("contains, ignoring case,"),
        text_only=True,
    ),
    Operator("isnull", _parse_isnull, _isnull, _document_isnull, binds=False),
]
OPERATORS: dict[str, Operator] = {op.name: op for op in _ROWS}
TEXT_OPERATORS = frozenset(op.name for op in _ROWS if op.text_only)
