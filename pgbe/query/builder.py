"""Build SQLAlchemy Core conditions and ordering from parsed list parameters.

The same functions serve the async fast path (which compiles the statement once per shape and binds
values positionally) and the sync controllers (which execute the statement with the values bound).
Every value is a bound parameter named `f<i>`; names never reach the SQL text unless allow-listed.
The condition of each operator comes from its row in `pgbe.query.operators`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, bindparam
from sqlalchemy.sql.elements import UnaryExpression

from pgbe.query.params import Filter, ListParams
from pgbe.query.spec import QuerySpec


def filter_clause(flt: Filter, name: str) -> ColumnElement[bool]:
    """Return the condition of one filter; a related field becomes an EXISTS subquery."""
    field, operator = flt.field, flt.operator
    value: Any = flt.value
    if operator.binds:
        value = bindparam(name, flt.value, type_=operator.bind_type(field.sa_type))
    condition = operator.condition(field.attribute, value)
    rel = field.relationship
    if rel is None:
        return condition
    return rel.any(condition) if field.uselist else rel.has(condition)


def where_clauses(params: ListParams) -> list[ColumnElement[bool]]:
    """Return the WHERE conditions of `params` (parameters named f0, f1, ...)."""
    return [filter_clause(flt, f"f{i}") for i, flt in enumerate(params.filters)]


def order_by(spec: QuerySpec, params: ListParams, columns: Any = None) -> list[UnaryExpression[Any]]:
    """Return the ORDER BY of `params`, ending with the primary key so pages are stable.

    `columns` maps names to columns of a subquery holding `sort_columns`; by default the model's
    columns are used.
    """
    pk_name = spec.primary_key.key
    result = []
    for name, desc in params.sort:
        column = columns[sort_label(name)] if columns is not None else spec.sort[name]
        result.append(column.desc() if desc else column.asc())
    if pk_name not in dict(params.sort):
        pk = columns[pk_name] if columns is not None else getattr(spec.model, pk_name)
        result.append(pk.asc())
    return result


def sort_label(name: str) -> str:
    """The name a sort key has among a subquery's columns: the column's own, or `sort__rel__field`."""
    return "sort__" + name.replace(".", "__") if "." in name else name


def sort_columns(spec: QuerySpec, params: ListParams) -> list[ColumnElement[Any]]:
    """The sort keys that are not columns of the model (related fields), labelled for `order_by`."""
    return [spec.sort[name].label(sort_label(name)) for name, _ in params.sort if "." in name]
