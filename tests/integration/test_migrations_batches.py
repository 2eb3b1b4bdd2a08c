"""batched_update: primary-key batches in short transactions, resumable after a failure."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import create_engine
from sqlalchemy.exc import DataError

from pgbe.db.batches import PROGRESS_TABLE, batched_update
from pgbe.db.database import libpq_dsn, with_driver
from pgbe.migrations import alembic_config, head_revisions
from pgbe.testing.migrations import copy_project, database_revisions, write_revision

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def items_url(scratch_database: str) -> str:
    """A scratch database holding `items` with ids 1..1000 and an empty `note`."""
    with psycopg.connect(libpq_dsn(scratch_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id bigint PRIMARY KEY, note text)")
        conn.execute("INSERT INTO items (id) SELECT generate_series(1, 1000)")
    return scratch_database


def _notes(url: str, table: str = "items") -> dict[int, str | None]:
    with psycopg.connect(libpq_dsn(url)) as conn:
        return dict(conn.execute(f"SELECT id, note FROM {table} ORDER BY id").fetchall())


def test_batched_update_thousand_rows_fills_every_row_in_ten_batches(items_url: str) -> None:
    out = io.StringIO()

    result = batched_update(items_url, "items", "note = 'n' || id", batch_size=100, stream=out)

    assert (result.rows, result.batches, result.resumed_after) == (1000, 10, None)
    assert _notes(items_url) == {i: f"n{i}" for i in range(1, 1001)}
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("items: SET note = 'n' || id: 100/1000 rows (10%)")
    assert lines[-1].endswith("done, 1000 rows updated")


def test_batched_update_failure_midway_rerun_resumes_after_last_batch(items_url: str) -> None:
    failing = "note = 'first run' || left((1 / (id - 550))::text, 0)"  # division by zero at id 550
    with pytest.raises(DataError) as caught:
        batched_update(items_url, "items", failing, batch_size=100, job="fill-notes", progress=False)
    assert isinstance(caught.value.orig, psycopg.errors.DivisionByZero)
    assert "stopped after key 500" in "".join(caught.value.__notes__)

    result = batched_update(items_url, "items", "note = 'second run'", batch_size=100, job="fill-notes")

    assert (result.resumed_after, result.rows, result.batches) == (500, 500, 5)
    notes = _notes(items_url)
    assert all(notes[i] == "first run" for i in range(1, 501))
    assert all(notes[i] == "second run" for i in range(501, 1001))
    again = batched_update(items_url, "items", "note = 'third run'", job="fill-notes", progress=False)
    assert again.already_finished
    assert again.rows == 0
    assert _notes(items_url)[1000] == "second run"


def test_batched_update_where_and_params_update_only_matching_rows(items_url: str) -> None:
    engine = create_engine(with_driver(items_url, "psycopg"))
    try:
        result = batched_update(
            engine,
            "items",
            "note = :label",
            where_sql="id % 2 = 0",
            params={"label": "even"},
            batch_size=64,
            progress=False,
        )
    finally:
        engine.dispose()

    assert result.rows == 500
    notes = _notes(items_url)
    assert {notes[i] for i in range(2, 1001, 2)} == {"even"}
    assert {notes[i] for i in range(1, 1001, 2)} == {None}


def test_batched_update_each_batch_commits_and_records_progress(items_url: str) -> None:
    batched_update(items_url, "items", "note = 'x'", batch_size=300, job="progress-rows", progress=False)

    with psycopg.connect(libpq_dsn(items_url)) as conn:
        row = conn.execute(
            f"SELECT last_key, rows_done, finished FROM {PROGRESS_TABLE} WHERE job = 'progress-rows'"
        ).fetchone()
    assert row == (1000, 1000, True)


def test_batched_update_restart_runs_a_finished_job_again(items_url: str) -> None:
    batched_update(items_url, "items", "note = 'a'", job="again", progress=False)
    result = batched_update(items_url, "items", "note = 'b'", job="again", progress=False, restart=True)

    assert result.rows == 1000
    assert set(_notes(items_url).values()) == {"b"}


BATCHED_UPGRADE = """
from pgbe.db.batches import batched_update

op.execute("CREATE TABLE things (id bigint PRIMARY KEY, note text)")
op.execute("INSERT INTO things (id) SELECT generate_series(1, 300)")
with op.get_context().autocommit_block():
    batched_update(op.get_bind(), "things", {set_sql!r}, batch_size=100, job="things", progress=False)
"""


def test_batched_update_in_autocommit_block_commits_batches_before_a_failure(
    scratch_database: str, tmp_path: Path
) -> None:
    """The documented trade-off: batches outside the revision's transaction stay done when it fails."""
    project = copy_project(ROOT, tmp_path / "project")
    (head,) = head_revisions(ROOT)
    failing = "note = 'done' || left((1 / (id - 250))::text, 0)"
    upgrade = BATCHED_UPGRADE.format(set_sql=failing)
    write_revision(
        project / "migrations" / "versions", "batched", head, upgrade, downgrade='op.drop_table("things")'
    )
    config = alembic_config(project, url=scratch_database)

    with pytest.raises(DataError):
        command.upgrade(config, "head")

    assert database_revisions(scratch_database) == {head}
    notes = _notes(scratch_database, "things")
    assert [i for i, note in notes.items() if note == "done"] == list(range(1, 201))
    assert all(notes[i] is None for i in range(201, 301))
