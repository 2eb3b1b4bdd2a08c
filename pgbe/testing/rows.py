"""Rows for tests: insert one with only the values a test cares about, the rest filled from the catalog.

`await insert_row(api.conn, "comments", body="Hi")` reads the table's required columns from
PostgreSQL's catalog (the migrated schema, not a copy of it in the test) and gives each one a value
of its type: a fresh string within the column's length, a number, the first label of an enum, now.
A required foreign key gets a row of its own in the referenced table, made the same way, so a chain
of required references (comment -> article -> author) takes one call. Returns the new primary key.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass
from typing import Any

_COLUMNS = """
SELECT a.attname AS name, t.typname AS type, t.typtype::text AS kind, a.atttypmod AS typmod,
       (SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = a.atttypid
         ORDER BY e.enumsortorder LIMIT 1) AS first_label,
       (SELECT f.confrelid::regclass::text FROM pg_constraint f
         WHERE f.conrelid = a.attrelid AND f.contype = 'f' AND f.conkey = ARRAY[a.attnum]
         ORDER BY f.conname LIMIT 1) AS target
  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
 ORDER BY a.attnum
"""
_PRIMARY_KEY = """
SELECT a.attname FROM pg_index i
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
 WHERE i.indrelid = $1 AND i.indisprimary
"""


class RowError(ValueError):
    """A table's required columns cannot be filled (a type without a sample, a cycle of references)."""


@dataclass(frozen=True)
class _Column:
    name: str
    type: str
    kind: str
    typmod: int
    first_label: str | None
    target: str | None


def _text(column: _Column) -> str:
    """A fresh string: random first, so that a short unique column still gets a new value."""
    token = uuid.uuid4().hex[:12]
    value = f"{token}@example.test" if "email" in column.name else f"{token}-{column.name}"
    if column.type in ("varchar", "bpchar") and column.typmod > 4:  # typmod: the length + 4
        return value[: column.typmod - 4]
    return value


def _sample(column: _Column) -> Any:
    """A value of the column's type, different on each call where it can be (unique columns)."""
    if column.kind == "e":
        return column.first_label
    if column.kind == "d":
        raise RowError(f"{column.name} ({column.type}): a domain needs a value from the test")
    serial = uuid.uuid4().int
    samples: dict[str, Any] = {
        "int2": 1 + serial % 32_000,
        "int4": 1 + serial % 2_000_000_000,
        "int8": 1 + serial % 2**62,
        "numeric": decimal.Decimal(1),
        "float4": 1.0,
        "float8": 1.0,
        "bool": False,
        "date": dt.date.today(),  # noqa: DTZ011 - any date does
        "timestamp": dt.datetime.now(),  # noqa: DTZ005 - a naive column takes a naive value
        "timestamptz": dt.datetime.now(dt.UTC),
        "time": dt.time(12),
        "interval": dt.timedelta(hours=1),
        "uuid": uuid.uuid4(),
        "json": "{}",
        "jsonb": "{}",
        "bytea": b"",
        "inet": "127.0.0.1",
    }
    if column.type in ("text", "varchar", "bpchar", "citext", "name"):
        return _text(column)
    if column.type in samples:
        return samples[column.type]
    if column.type.startswith("_"):
        return []
    raise RowError(f"{column.name} ({column.type}): no sample value; pass it to insert_row")


async def insert_row(conn: Any, table: str, /, **values: Any) -> Any:
    """Insert a row of `table` with `values`, every other required column filled; return its primary key.

    Required foreign keys not given get a new row of the referenced table (recursively).
    """
    return await _insert(conn, table, values, ())


async def _insert(conn: Any, table: str, values: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if table in seen:
        chain = " -> ".join((*seen, table))
        raise RowError(f"required foreign keys go round in a circle ({chain}): pass one of them")
    oid = await conn.fetchval("SELECT to_regclass($1)::oid", table)
    if oid is None:
        raise RowError(f"no table {table!r}")
    columns = [_Column(**dict(r.items())) for r in await conn.fetch(_COLUMNS, oid)]
    keys = [r["attname"] for r in await conn.fetch(_PRIMARY_KEY, oid)]
    row = dict(values)
    for column in columns:
        if column.name in row:
            continue
        if column.target is not None:
            row[column.name] = await _insert(conn, column.target, {}, (*seen, table))
        else:
            row[column.name] = _sample(column)
    returning = ", ".join(f'"{k}"' for k in keys) or "NULL"
    if row:
        names = ", ".join(f'"{name}"' for name in row)
        slots = ", ".join(f"${i}" for i in range(1, len(row) + 1))
        sql = f"INSERT INTO {table} ({names}) VALUES ({slots}) RETURNING {returning}"  # noqa: S608 - names from the catalog and the caller's code
    else:
        sql = f"INSERT INTO {table} DEFAULT VALUES RETURNING {returning}"  # noqa: S608
    record = await conn.fetchrow(sql, *row.values())
    return record[0] if len(keys) <= 1 else tuple(record)


__all__ = ["RowError", "insert_row"]
