"""Update a big table in primary-key batches, each its own short transaction, resumable after a failure.

One UPDATE over millions of rows holds its row locks, bloats the table and, inside a migration's
transaction, blocks writers until the very end. `batched_update` walks the integer primary key instead:
each batch is one statement that updates up to `batch_size` rows *and* records the last key done in
`pgbe_batch_progress`, so a batch and its bookkeeping commit together or not at all. After a failure
(a timeout, a deploy, a bad row) the same call resumes after the last committed batch.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, create_engine, text

from pgbe.db.urls import with_driver

PROGRESS_TABLE = "pgbe_batch_progress"
_START = -(2**63)  # below every bigint key

_CREATE_PROGRESS = f"""
CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (
    job text PRIMARY KEY,
    last_key bigint NOT NULL,
    rows_done bigint NOT NULL DEFAULT 0,
    finished boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class BatchResult:
    """What one call did: rows and batches of this run, and where it started."""

    job: str
    rows: int
    batches: int
    resumed_after: int | None
    already_finished: bool = False


class _Display:
    """A rich progress bar on a terminal, a line per tenth of the work otherwise."""

    def __init__(self, job: str, total: int, *, enabled: bool, stream: TextIO) -> None:
        self.job, self.total, self.done, self.stream = job, total, 0, stream
        self.enabled = enabled
        self._next_tenth = 1
        self._bar: Any = None
        if enabled and stream.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(file=stream), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(job, total=total or None)

    def advance(self, rows: int, last_key: int) -> None:
        self.done += rows
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, advance=rows)
            return
        if self.total and self.done * 10 >= self._next_tenth * self.total:
            self._next_tenth = self.done * 10 // self.total + 1
            percent = min(100, self.done * 100 // self.total)
            print(
                f"{self.job}: {self.done}/{self.total} rows ({percent}%), last key {last_key}",
                file=self.stream,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self.enabled:
            print(f"{self.job}: done, {self.done} rows updated", file=self.stream)


def _quote(connection: Connection, dotted: str) -> str:
    preparer = connection.dialect.identifier_preparer
    return ".".join(preparer.quote(part) for part in dotted.split("."))


@dataclass(frozen=True)
class _Plan:
    job: str
    table: str
    set_sql: str
    where_sql: str | None
    batch_size: int
    key: str
    params: Mapping[str, Any]


def _batch_sql(table: str, target: str, key: str, set_sql: str, where_sql: str | None) -> str:
    extra = f" AND ({where_sql})" if where_sql else ""
    return f"""
WITH batch AS (
    SELECT {key} AS pgbe_key FROM {table} WHERE {key} > :last_key{extra} ORDER BY {key} LIMIT :batch_size
), updated AS (
    UPDATE {table} SET {set_sql} FROM batch WHERE {target}.{key} = batch.pgbe_key RETURNING 1
), saved AS (
    UPDATE {PROGRESS_TABLE}
    SET last_key = coalesce((SELECT max(pgbe_key) FROM batch), last_key),
        rows_done = rows_done + (SELECT count(*) FROM updated),
        finished = NOT EXISTS (SELECT 1 FROM batch),
        updated_at = now()
    WHERE job = :job
)
SELECT (SELECT count(*) FROM updated), (SELECT max(pgbe_key) FROM batch)
"""  # noqa: S608 - identifiers are quoted; set_sql/where_sql are the caller's SQL by design


def batched_update(
    target: Engine | Connection | str,
    table: str,
    set_sql: str,
    *,
    where_sql: str | None = None,
    batch_size: int = 1000,
    key: str = "id",
    job: str | None = None,
    params: Mapping[str, Any] | None = None,
    progress: bool = True,
    restart: bool = False,
    stream: TextIO | None = None,
) -> BatchResult:
    """Run `UPDATE table SET set_sql [WHERE where_sql]` in batches of `batch_size` keys.

    Args:
        target: an Engine or URL (each batch commits on its own), or a Connection: batches then follow
            the connection's transaction, so pass one in AUTOCOMMIT mode (alembic's
            `op.get_context().autocommit_block()`) to commit batch by batch inside a migration.
        job: names the work in `pgbe_batch_progress`; a rerun with the same name resumes after the last
            committed batch, and does nothing once finished. Defaults to the table and the SQL.
        restart: forget earlier progress of this job and start from the first key.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    name = job or f"{table}: SET {set_sql}" + (f" WHERE {where_sql}" if where_sql else "")
    plan = _Plan(name, table, set_sql, where_sql, batch_size, key, dict(params or {}))
    out = stream or sys.stderr
    if isinstance(target, Connection):
        return _run(target, plan, progress=progress, restart=restart, stream=out)
    engine = create_engine(with_driver(target, "psycopg")) if isinstance(target, str) else target
    try:
        with engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            return _run(auto, plan, progress=progress, restart=restart, stream=out)
    finally:
        if isinstance(target, str):
            engine.dispose()


def _start(conn: Connection, job: str, *, restart: bool) -> tuple[int, bool]:
    """Create the progress table and this job's row; return its last key and whether it finished."""
    conn.execute(text(_CREATE_PROGRESS))
    if restart:
        conn.execute(text(f"DELETE FROM {PROGRESS_TABLE} WHERE job = :job"), {"job": job})  # noqa: S608
    insert = f"INSERT INTO {PROGRESS_TABLE} (job, last_key) VALUES (:job, :start) ON CONFLICT DO NOTHING"  # noqa: S608
    conn.execute(text(insert), {"job": job, "start": _START})
    select = f"SELECT last_key, finished FROM {PROGRESS_TABLE} WHERE job = :job"  # noqa: S608
    row = conn.execute(text(select), {"job": job}).one()
    return int(row[0]), bool(row[1])


def _run(conn: Connection, plan: _Plan, *, progress: bool, restart: bool, stream: TextIO) -> BatchResult:
    last_key, finished = _start(conn, plan.job, restart=restart)
    resumed_after = None if last_key == _START else last_key
    if finished:
        return BatchResult(plan.job, 0, 0, resumed_after, already_finished=True)
    table, key = _quote(conn, plan.table), _quote(conn, plan.key)
    total = 0
    if progress:
        extra = f" AND ({plan.where_sql})" if plan.where_sql else ""
        count_sql = f"SELECT count(*) FROM {table} WHERE {key} > :last_key{extra}"  # noqa: S608
        total = int(conn.execute(text(count_sql), {**plan.params, "last_key": last_key}).scalar_one())
    display = _Display(plan.job, total, enabled=progress, stream=stream)
    bare_table = _quote(conn, plan.table.rsplit(".", 1)[-1])
    statement = text(_batch_sql(table, bare_table, key, plan.set_sql, plan.where_sql))
    rows = batches = 0
    try:
        while True:
            bind = {**plan.params, "last_key": last_key, "batch_size": plan.batch_size, "job": plan.job}
            updated, batch_last = conn.execute(statement, bind).one()
            if batch_last is None:
                break
            rows, batches, last_key = rows + int(updated), batches + 1, int(batch_last)
            display.advance(int(updated), last_key)
    except Exception as exc:
        exc.add_note(f"batched_update {plan.job!r}: stopped after key {last_key}; run it again to resume")
        raise
    finally:
        display.close()
    return BatchResult(plan.job, rows, batches, resumed_after)


__all__ = ["PROGRESS_TABLE", "BatchResult", "batched_update"]
