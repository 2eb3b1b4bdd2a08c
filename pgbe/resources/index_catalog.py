"""The indexes of the live database, read from pg_index: what each one can serve a query."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, text

# Operator classes with which a GIN or GiST index serves LIKE / ILIKE '%text%' (pg_trgm).
TRIGRAM_OPCLASSES = frozenset({"gin_trgm_ops", "gist_trgm_ops"})
# B-tree operator classes that serve LIKE 'text%' whatever the collation.
PATTERN_OPCLASSES = frozenset({"text_pattern_ops", "varchar_pattern_ops", "bpchar_pattern_ops"})
_C_COLLATIONS = frozenset({"C", "POSIX"})

_INDEXES = text(
    """
    SELECT t.oid::regclass::text AS table_name, i.relname AS index_name, am.amname AS method,
           x.indisunique AS is_unique, x.indisvalid AND x.indisready AS is_valid,
           pg_get_expr(x.indpred, x.indrelid, true) AS predicate,
           k.pos, a.attname AS column_name, oc.opcname AS opclass,
           (x.indoption[k.pos - 1] & 1) = 1 AS descending,
           coalesce(nullif(co.collname, 'default'), db.datcollate) AS collation,
           pg_get_indexdef(x.indexrelid, k.pos, true) AS definition
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_am am ON am.oid = i.relam
    CROSS JOIN LATERAL generate_series(1, x.indnkeyatts) AS k(pos)
    LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k.pos - 1] AND a.attnum > 0
    LEFT JOIN pg_opclass oc ON oc.oid = x.indclass[k.pos - 1]
    LEFT JOIN pg_collation co ON co.oid = x.indcollation[k.pos - 1]
    CROSS JOIN (SELECT datcollate FROM pg_database WHERE datname = current_database()) AS db
    WHERE x.indrelid = ANY(CAST(:tables AS regclass[]))
    ORDER BY i.relname, k.pos
    """
)
_EXISTING = text("SELECT name, to_regclass(name) IS NOT NULL FROM unnest(CAST(:names AS text[])) AS name")
_TRIGRAM = text("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm')")


@dataclass(frozen=True, slots=True)
class IndexKey:
    """One key of an index: a column (None for an expression), its direction and operator class."""

    column: str | None
    definition: str
    descending: bool
    opclass: str
    collation: str | None

    @property
    def c_collation(self) -> bool:
        """Tell whether the key compares bytes (C collation), so a B-tree serves LIKE 'text%'."""
        return self.collation in _C_COLLATIONS


@dataclass(frozen=True, slots=True)
class TableIndex:
    """An index of a table, as the planner sees it."""

    name: str
    method: str
    unique: bool
    valid: bool
    predicate: str | None
    keys: tuple[IndexKey, ...]

    @property
    def usable(self) -> bool:
        """Tell whether any query can use it: built and valid, and not partial."""
        return self.valid and self.predicate is None

    @property
    def columns(self) -> tuple[str | None, ...]:
        """The key columns in order (None for an expression)."""
        return tuple(key.column for key in self.keys)

    def leads_with(self, column: str) -> bool:
        """Tell whether this is a B-tree whose first key is `column` (filters and sorts on it use it)."""
        return self.method == "btree" and bool(self.keys) and self.keys[0].column == column

    def trigram(self, column: str) -> bool:
        """Tell whether this is a pg_trgm index over `column` (any key of a GIN index is searchable)."""
        keys = self.keys if self.method == "gin" else self.keys[:1]
        return any(k.column == column and k.opclass in TRIGRAM_OPCLASSES for k in keys)

    def prefix(self, column: str) -> bool:
        """Tell whether this B-tree serves LIKE 'text%' on `column` (pattern ops or C collation)."""
        if not self.leads_with(column):
            return False
        key = self.keys[0]
        return key.opclass in PATTERN_OPCLASSES or key.c_collation


@dataclass
class Catalog:
    """The indexes of some tables, which of the tables exist, and whether pg_trgm is installed."""

    indexes: dict[str, list[TableIndex]] = field(default_factory=dict)
    missing_tables: set[str] = field(default_factory=set)
    trigram: bool = False

    def of(self, table: str) -> list[TableIndex]:
        """The usable indexes of `table`."""
        return [index for index in self.indexes.get(table, []) if index.usable]

    def unusable(self, table: str) -> list[TableIndex]:
        """The indexes of `table` no query can use: partial ones, or invalid (a failed CONCURRENTLY build)."""
        return [index for index in self.indexes.get(table, []) if not index.usable]


def qualified_name(table: Table) -> str:
    """The name of `table` as `regclass::text` writes it (schema only when the table has one)."""
    return f"{table.schema}.{table.name}" if table.schema else table.name


def read_catalog(conn: Connection, tables: Iterable[Table]) -> Catalog:
    """Read the indexes of `tables` from the system catalogs (one query for all of them)."""
    names = sorted({qualified_name(table) for table in tables})
    catalog = Catalog(trigram=bool(conn.execute(_TRIGRAM).scalar()))
    existing = []
    for name, exists in conn.execute(_EXISTING, {"names": names}):
        if exists:
            existing.append(name)
            catalog.indexes[name] = []
        else:
            catalog.missing_tables.add(name)
    rows = conn.execute(_INDEXES, {"tables": existing}).mappings().all() if existing else []
    grouped: dict[tuple[str, str], list[dict[str, object]]] = {}
    for row in rows:
        grouped.setdefault((str(row["table_name"]), str(row["index_name"])), []).append(dict(row))
    for (table_name, index_name), keys in grouped.items():
        first = keys[0]
        catalog.indexes.setdefault(table_name, []).append(
            TableIndex(
                name=index_name,
                method=str(first["method"]),
                unique=bool(first["is_unique"]),
                valid=bool(first["is_valid"]),
                predicate=None if first["predicate"] is None else str(first["predicate"]),
                keys=tuple(
                    IndexKey(
                        column=None if k["column_name"] is None else str(k["column_name"]),
                        definition=str(k["definition"]),
                        descending=bool(k["descending"]),
                        opclass=str(k["opclass"] or ""),
                        collation=None if k["collation"] is None else str(k["collation"]),
                    )
                    for k in keys
                ),
            )
        )
    return catalog
