"""Keyset pagination in SQL: the sort keys of a list, and the condition "after (or before) this row".

A list is ordered by its sort fields and then by the primary key, so every row has one place. A
keyset page starts just after a row whose sort values a cursor holds: `(a, b, id) > (x, y, z)` in the
list's order, each key with its own direction and PostgreSQL's NULL placement (last ascending, first
descending). The values are bound as text (`c0`, `c1`, ...) and cast to each key's type, so they
round-trip exactly (numerics, timestamps). The first key's range condition comes first, so an index
on it is scanned from the cursor on instead of from the start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, bindparam, cast, false, or_
from sqlalchemy.sql.elements import UnaryExpression

from pgbe.query.params import ListParams
from pgbe.query.spec import QuerySpec


@dataclass(frozen=True, slots=True)
class SortKey:
    """One key of a list's order: its expression on the table, its label among a page's columns."""

    label: str
    expression: ColumnElement[Any]
    desc: bool
    nullable: bool

    def ordered(self, expression: Any = None, *, backward: bool = False) -> UnaryExpression[Any]:
        """This key in an ORDER BY (of `expression`, by default its own), reversed if `backward`."""
        target = self.expression if expression is None else expression
        return target.desc() if self.desc != backward else target.asc()


def sort_keys(spec: QuerySpec, params: ListParams) -> list[SortKey]:
    """The keys of the list's order: the sort fields, then the primary key unless sorted on."""
    columns = spec.mapper.columns
    keys = []
    for name, desc in params.sort:
        label = spec.sort_labels[name]
        nullable = columns[name].nullable if label == name and name in columns else True
        keys.append(SortKey(label, spec.sort[name], desc, bool(nullable)))
    pk = spec.primary_key
    if pk.key not in dict(params.sort):
        keys.append(SortKey(pk.key, getattr(spec.model, pk.key).expression, False, False))
    return keys


def _beyond(key: SortKey, value: Any, desc: bool) -> ColumnElement[bool]:
    """The rows whose key comes after `value` (None: NULL) in this direction."""
    column = key.expression
    if value is None:  # NULLs are last ascending: nothing after them; first descending
        found: ColumnElement[bool] = column.is_not(None) if desc else false()
        return found
    if desc:
        before: ColumnElement[bool] = column < value
        return before
    after: ColumnElement[bool] = column > value
    return or_(after, column.is_(None)) if key.nullable else after


def keyset_condition(
    keys: Sequence[SortKey], nulls: Sequence[bool], *, backward: bool
) -> ColumnElement[bool]:
    """The rows after the cursor's row in the list's order (before it when `backward`).

    `nulls` says which of the cursor's values are NULL: they change the text of the condition.
    """
    values = [
        None if null else cast(bindparam(f"c{i}", type_=Text), key.expression.type)
        for i, (key, null) in enumerate(zip(keys, nulls, strict=True))
    ]
    terms: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for key, value in zip(keys, values, strict=True):
        terms.append(and_(*equal, _beyond(key, value, key.desc != backward)))
        equal.append(key.expression.is_(None) if value is None else key.expression == value)
    condition = or_(*terms)
    first, value = keys[0], values[0]
    if value is not None and not first.nullable:  # a range an index on the first key can seek to
        bound = first.expression <= value if first.desc != backward else first.expression >= value
        condition = and_(bound, condition)
    return condition


__all__ = ["SortKey", "keyset_condition", "sort_keys"]
