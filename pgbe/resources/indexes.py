"""Check that an index serves every allow-listed sort and filter of the registered resources.

A resource's allow-lists promise callers that `sort=price` or `name__icontains=...` is fine to ask;
on a big table, each one without an index is a sequential scan and a sort of every row. This reads
the live database's indexes (`pgbe.resources.index_catalog`) and, for each sort and filter, answers
whether one serves it, naming the index to add when none does:

- a sort on a column: a B-tree whose keys are the list's ORDER BY (the column, then the primary key
  that breaks ties), read forwards or backwards; one that starts with the column serves it but sorts
  each group of ties (`partial`); a unique index on the column alone serves it whole;
- `eq`, `in`, ranges and `isnull`: a B-tree starting with the column (`in` and `eq` also a hash);
- `startswith`: a pg_trgm index, or a B-tree with `text_pattern_ops` (or in the C collation);
- `contains` / `icontains`: a pg_trgm GIN or GiST index (`pgbe.models.trigram_index`);
- through a relationship (`category.name`): the related column as above, and the join's keys.

`ne` (IS DISTINCT FROM) is served by no index and is not reported. Partial and invalid indexes do
not count; the report says when one would have. Sorts on related or computed fields are `unindexable`
(no index of the table orders by them); computed filters are not checked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Column, Connection, Table
from sqlalchemy.orm import RelationshipDirection, RelationshipProperty
from sqlalchemy.sql import operators

from pgbe.query.builder import order_by
from pgbe.query.params import ListParams
from pgbe.query.spec import FilterField
from pgbe.resources.index_catalog import Catalog, TableIndex, qualified_name, read_catalog
from pgbe.resources.index_report import Finding, IndexPlan, format_report, missing, plans
from pgbe.resources.resource import Resource

logger = logging.getLogger("pgbe.indexes")

COMPARE = frozenset({"eq", "in", "gt", "gte", "lt", "lte", "isnull"})
HASHABLE = frozenset({"eq", "in"})
PREFIX = frozenset({"startswith"})
SUBSTRING = frozenset({"contains", "icontains"})


class IndexCheckError(RuntimeError):
    """Raised at start-up (setting `index_check=fail`) when an allow-listed query has no index."""


@dataclass
class _Checker:
    """The checks of one resource against the catalog."""

    resource: Resource
    catalog: Catalog
    ignore: frozenset[str]
    findings: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        if finding.plan is not None and _ignored(self.ignore, finding.plan.table, finding.plan.keys[0][0]):
            return
        self.findings.append(finding)

    def sort(self, name: str) -> None:
        spec = self.resource.spec
        column = _own_column(spec.sort[name])
        if column is None or _ignored(self.ignore, qualified_name(_table(column)), column.name):
            own = qualified_name(_own_table(self.resource))
            if column is None and not _ignored(self.ignore, own):
                self.add(
                    Finding(
                        self.resource.path,
                        "sort",
                        name,
                        "unindexable",
                        f"{name} is a related or computed field: no index of the table orders by it, so "
                        "every matching row is sorted; offer it on small tables only",
                    )
                )
            return
        table = qualified_name(_table(column))
        orders = [_order(spec, name, desc) for desc in (False, True)]
        indexes = self.catalog.of(table)
        unserved = [order for order in orders if not any(_serves_order(ix, order) for ix in indexes)]
        if not unserved:
            return
        leading = next((ix for ix in indexes if ix.leads_with(column.name)), None)
        plan = IndexPlan(table, unserved[0])
        if leading is not None:
            self.add(
                Finding(
                    self.resource.path,
                    "sort",
                    name if unserved[0] == orders[0] else f"-{name}",
                    "partial",
                    f"{leading.name} orders {table} by {column.name}; the tie-break "
                    f"({_describe(unserved[0][1:])}) is sorted per group of equal values",
                    plan=plan,
                )
            )
            return
        self.add(
            Finding(
                self.resource.path,
                "sort",
                name,
                "missing",
                f"no index orders {table} by {column.name}: every matching row is read and sorted"
                + _unusable_note(self.catalog, table, column.name),
                plan=IndexPlan(table, orders[0]),
            )
        )

    def filter(self, flt: FilterField) -> None:
        column = _own_column(flt.attribute)
        if column is None:  # a computed field: its expression is the resource's own business
            return
        ops = flt.operators
        self._column_filter(flt.name, column, ops)
        rel = flt.relationship
        if rel is not None:
            for table, join_column in _join_keys(cast(RelationshipProperty[Any], rel.property)):
                self._join(flt.name, table, join_column, ops)

    def _column_filter(self, name: str, column: Column[Any], ops: frozenset[str]) -> None:
        table = qualified_name(_table(column))
        if _ignored(self.ignore, table, column.name):
            return
        indexes = self.catalog.of(table)
        for group in (ops & COMPARE, ops & (PREFIX | SUBSTRING)):  # one trigram index serves all text
            unserved = tuple(
                sorted(op for op in group if not any(_serves(ix, column.name, op) for ix in indexes))
            )
            if unserved:
                plan = _filter_plan(table, column.name, unserved)
                extension = plan.opclass == "gin_trgm_ops" and not self.catalog.trigram
                self.add(
                    Finding(
                        self.resource.path,
                        "filter",
                        name,
                        "missing",
                        f"no index of {table} serves {column.name} with {', '.join(unserved)}"
                        + _unusable_note(self.catalog, table, column.name)
                        + (" (first CREATE EXTENSION pg_trgm)" if extension else ""),
                        operators=unserved,
                        plan=plan,
                    )
                )

    def _join(self, name: str, table: str, column: str, ops: frozenset[str]) -> None:
        if any(ix.leads_with(column) for ix in self.catalog.of(table)):
            return
        self.add(
            Finding(
                self.resource.path,
                "filter",
                name,
                "missing",
                f"the filter joins through {table}.{column}, which no index starts with",
                operators=tuple(sorted(ops)),
                plan=IndexPlan(table, ((column, False),)),
            )
        )


def _ignored(ignore: frozenset[str], table: str, column: str | None = None) -> bool:
    return table in ignore or (column is not None and f"{table}.{column}" in ignore)


def _own_table(resource: Resource) -> Table:
    return cast(Table, resource.mapper.local_table)


def _table(column: Any) -> Table:
    table = column.table
    assert isinstance(table, Table)
    return table


def _own_column(expression: Any) -> Column[Any] | None:
    """The table column behind a sort key or filter attribute, or None for any other expression."""
    element = getattr(expression, "expression", expression)
    return element if isinstance(element, Column) and isinstance(element.table, Table) else None


def _order(spec: Any, name: str, desc: bool) -> tuple[tuple[str, bool], ...]:
    """The ORDER BY a list sorted on `name` runs, as (column, descending) pairs."""
    result = []
    for item in order_by(spec, ListParams(skip=0, limit=1, sort=((name, desc),))):
        column = _own_column(item.element)
        assert column is not None
        result.append((column.name, item.modifier is operators.desc_op))
    return tuple(result)


def _serves_order(index: TableIndex, order: Sequence[tuple[str, bool]]) -> bool:
    """Tell whether a scan of `index`, forwards or backwards, returns rows in `order`."""
    if index.method != "btree":
        return False
    keys = [(key.column, key.descending) for key in index.keys]
    first, reversed_first = order[0], (order[0][0], not order[0][1])
    if index.unique and keys in ([first], [reversed_first]):
        return True  # no ties on the first key: the tie-break never decides
    head = keys[: len(order)]
    backwards = [(column, not desc) for column, desc in order]
    return head == list(order) or head == backwards


def _serves(index: TableIndex, column: str, operator: str) -> bool:
    """Tell whether `index` serves a filter on `column` with `operator`."""
    if operator in SUBSTRING:
        return index.trigram(column)
    if operator in PREFIX:
        return index.trigram(column) or index.prefix(column)
    hashed = operator in HASHABLE and index.method == "hash" and index.columns[:1] == (column,)
    return index.leads_with(column) or hashed


def _describe(keys: Sequence[tuple[str, bool]]) -> str:
    return ", ".join(f"{column}{' DESC' if desc else ''}" for column, desc in keys)


def _unusable_note(catalog: Catalog, table: str, column: str) -> str:
    unusable = [ix for ix in catalog.unusable(table) if column in ix.columns]
    if not unusable:
        return ""
    why = [
        f"{ix.name} is {'partial (WHERE ' + ix.predicate + ')' if ix.predicate else 'invalid'}"
        for ix in unusable
    ]
    return f" ({'; '.join(why)})"


def _filter_plan(table: str, column: str, operators_: Sequence[str]) -> IndexPlan:
    """The index a filter needs: trigram (`contains`), pattern B-tree (`startswith` alone) or B-tree."""
    if set(operators_) & SUBSTRING:
        return IndexPlan(table, ((column, False),), method="gin", opclass="gin_trgm_ops")
    if set(operators_) & PREFIX:
        return IndexPlan(table, ((column, False),), opclass="text_pattern_ops")
    return IndexPlan(table, ((column, False),))


def _join_keys(rel: RelationshipProperty[Any]) -> list[tuple[str, str]]:
    """The (table, column) pairs a filter through `rel` looks rows up by."""
    if rel.direction is RelationshipDirection.MANYTOMANY:
        pairs = [*(rel.synchronize_pairs or ()), *(rel.secondary_synchronize_pairs or ())]
        return [(qualified_name(_table(remote)), remote.name) for _, remote in pairs]
    if rel.direction is RelationshipDirection.MANYTOONE:
        return [(qualified_name(_table(local)), local.name) for local, _ in rel.local_remote_pairs or ()]
    return [(qualified_name(_table(remote)), remote.name) for _, remote in rel.local_remote_pairs or ()]


def _tables(resources: Iterable[Resource]) -> set[Table]:
    found: set[Table] = set()
    for res in resources:
        found.add(_own_table(res))
        for flt in res.spec.filters.values():
            column = _own_column(flt.attribute)
            if column is not None:
                found.add(_table(column))
            if flt.relationship is not None:
                rel = flt.relationship.property
                if isinstance(rel.secondary, Table):
                    found.add(rel.secondary)
    return found


def check_resources(
    conn: Connection, resources: Iterable[Resource], *, ignore: Iterable[str] = ()
) -> tuple[list[Finding], set[str]]:
    """Return the findings of every resource, and the tables that do not exist (migrations not applied)."""
    resources = list(resources)
    catalog = read_catalog(conn, _tables(resources))
    findings: list[Finding] = []
    for res in resources:
        if qualified_name(_own_table(res)) in catalog.missing_tables:
            continue
        checker = _Checker(res, catalog, frozenset(ignore))
        for name in res.spec.sort:
            checker.sort(name)
        for flt in res.spec.filters.values():
            checker.filter(flt)
        findings += checker.findings
    return findings, catalog.missing_tables


def check_at_startup(
    conn: Connection, resources: Sequence[Resource], *, mode: str, ignore: Iterable[str] = ()
) -> list[Finding]:
    """Log a warning per missing index (`mode="warn"`), or raise IndexCheckError (`mode="fail"`)."""
    if mode == "off" or not resources:
        return []
    findings, missing_tables = check_resources(conn, resources, ignore=ignore)
    for name in sorted(missing_tables):
        logger.warning("index check: table %s does not exist (migrations not applied?)", name)
    grouped = plans(findings)
    for plan, settled in grouped.items():
        logger.warning(
            "index check: %s has no index: add %s (model: %s)",
            "; ".join(f.subject for f in settled),
            plan.sql,
            plan.model,
        )
    for f in findings:  # `pgbe db lint` lists these; at start-up they would only be noise
        if f.level != "missing":
            logger.debug("index check: %s: %s", f.subject, f.message)
    if grouped and mode == "fail":
        raise IndexCheckError(
            f"{len(grouped)} index(es) missing for allow-listed sorts and filters"
            " (setting index_check=fail):\n" + format_report(missing(findings))
        )
    return findings


__all__ = ["IndexCheckError", "check_at_startup", "check_resources"]
