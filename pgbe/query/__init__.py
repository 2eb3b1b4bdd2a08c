"""Turn list query parameters (filters, sort, pagination, includes) into one SQL statement."""

from pgbe.query.builder import order_by, where_clauses
from pgbe.query.operators import OPERATORS, Operator
from pgbe.query.params import Filter, ListParams, parse_list_params
from pgbe.query.spec import FilterField, QuerySpec

__all__ = [
    "OPERATORS",
    "Filter",
    "FilterField",
    "ListParams",
    "Operator",
    "QuerySpec",
    "order_by",
    "parse_list_params",
    "where_clauses",
]
