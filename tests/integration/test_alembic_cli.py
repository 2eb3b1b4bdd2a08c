"""Every Alembic command of the guide, run as a user would: the `alembic` CLI from the repository root."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from pgbe.db.database import libpq_dsn
from pgbe.migrations import MIGRATION_LOCK_KEY, alembic_config
from pgbe.testing.databases import TestServer
from pgbe.testing.migrations import console_script, copy_project, database_revisions, run_cli

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ScriptDirectory.from_config(alembic_config(ROOT))
HISTORY = [s.revision for s in reversed(list(SCRIPTS.walk_revisions()))]
HEAD = HISTORY[-1]
WEIGHT_COLUMN = "    weight: Mapped[int | None] = mapped_column(Integer, nullable=True)\n"


@pytest.fixture(scope="module")
def url(test_server: TestServer) -> Iterator[str]:
    """One throwaway database shared by this module's tests; each test first moves it where it needs."""
    url = test_server.create_database("pgbe_cli")
    yield url
    test_server.drop_database(url)


def _at(url: str, revision: str) -> None:
    """Move the database to `revision` in-process (fast), whatever its current revision."""
    config = alembic_config(ROOT, url=url)
    current = database_revisions(url)
    if revision == "base":
        if current:
            command.downgrade(config, "base")
        return
    position = HISTORY.index(revision)
    if not current or HISTORY.index(next(iter(current))) < position:
        command.upgrade(config, revision)
    elif HISTORY.index(next(iter(current))) > position:
        command.downgrade(config, revision)


def alembic(url: str, *args: str, cwd: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_cli("alembic", *args, cwd=cwd, url=url, check=check)


def _tables(url: str) -> set[str]:
    with psycopg.connect(libpq_dsn(url)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def _columns(url: str, table: str) -> set[str]:
    with psycopg.connect(libpq_dsn(url)) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
        ).fetchall()
    return {r[0] for r in rows}


def _project_with_weight(tmp_path: Path) -> Path:
    """A copy of the project whose Product model gained a `weight` column."""
    project = copy_project(ROOT, tmp_path / "project")
    model = project / "app" / "models" / "product.py"
    source = model.read_text()
    anchor = "    sku: Mapped[str | None]"
    assert anchor in source
    model.write_text(source.replace(anchor, WEIGHT_COLUMN + anchor, 1))
    return project


def _new_revision_files(project: Path) -> list[Path]:
    known = {p.name for p in (ROOT / "migrations" / "versions").glob("*.py")}
    return [p for p in (project / "migrations" / "versions").glob("*.py") if p.name not in known]


def test_alembic_upgrade_head_applies_every_revision(url: str) -> None:
    _at(url, "base")

    done = alembic(url, "upgrade", "head")

    assert database_revisions(url) == {HEAD}
    assert {"products", "users", "profiles", "alembic_version"} <= _tables(url)
    for revision in HISTORY:
        assert re.search(rf"Running upgrade \S* -> {revision}", done.stderr)


def test_alembic_upgrade_to_revision_stops_there(url: str) -> None:
    _at(url, "base")

    alembic(url, "upgrade", "0002")

    assert database_revisions(url) == {"0002"}
    assert "sku" in _columns(url, "products")
    assert "about" in _columns(url, "profiles")


def test_alembic_upgrade_plus_one_applies_only_the_next_revision(url: str) -> None:
    _at(url, "0002")

    alembic(url, "upgrade", "+1")

    assert database_revisions(url) == {"0003"}
    assert "bio" in _columns(url, "profiles")


def test_alembic_downgrade_minus_one_reverts_the_last_revision(url: str) -> None:
    _at(url, HEAD)

    alembic(url, "downgrade", "-1")

    assert database_revisions(url) == {HISTORY[-2]}


def test_alembic_downgrade_base_removes_every_table(url: str) -> None:
    _at(url, HEAD)

    alembic(url, "downgrade", "base")

    assert database_revisions(url) == set()
    assert _tables(url) == {"alembic_version"}


def test_alembic_downgrade_to_revision_reverts_later_ones(url: str) -> None:
    _at(url, HEAD)

    alembic(url, "downgrade", "0002")

    assert database_revisions(url) == {"0002"}
    assert "about" in _columns(url, "profiles")
    assert "full_name" not in _columns(url, "users")


def test_alembic_current_prints_the_database_revision(url: str) -> None:
    _at(url, "0003")

    done = alembic(url, "current")

    assert done.stdout.strip() == "0003"


def test_alembic_history_lists_every_revision_in_order(url: str) -> None:
    done = alembic(url, "history")

    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(HISTORY)
    assert lines[0].startswith(f"{HISTORY[-2]} -> {HEAD} (head), ")
    assert lines[-1].startswith(f"<base> -> {HISTORY[0]}, ")


def test_alembic_history_verbose_shows_ids_parents_and_paths(url: str) -> None:
    done = alembic(url, "history", "-v")

    assert "Rev: 0003" in done.stdout
    assert "Parent: 0002" in done.stdout
    assert "Revision ID: 0004" in done.stdout
    assert "Path: " in done.stdout
    assert "0003_rename_profiles_about_to_bio.py" in done.stdout


def test_alembic_history_indicate_current_marks_the_database_revision(url: str) -> None:
    _at(url, "0003")

    done = alembic(url, "history", "--indicate-current")

    marked = [line for line in done.stdout.splitlines() if "(current)" in line]
    assert len(marked) == 1
    assert marked[0].startswith("0002 -> 0003 (current)")


def test_alembic_upgrade_sql_prints_statements_without_running_them(url: str) -> None:
    _at(url, "base")

    done = alembic(url, "upgrade", "0003", "--sql")

    assert "CREATE TABLE products" in done.stdout
    assert "ALTER TABLE products ADD COLUMN sku VARCHAR(100);" in done.stdout
    assert "ALTER TABLE profiles RENAME about TO bio;" in done.stdout
    assert "SET lock_timeout" in done.stdout
    assert _tables(url) <= {"alembic_version"}
    assert database_revisions(url) == set()


def test_alembic_stamp_records_revision_without_running_it(url: str) -> None:
    _at(url, "base")
    try:
        alembic(url, "stamp", "0002")

        assert database_revisions(url) == {"0002"}
        assert "products" not in _tables(url)
    finally:
        command.stamp(alembic_config(ROOT, url=url), "base")


def test_alembic_check_at_head_passes(url: str) -> None:
    _at(url, HEAD)

    done = alembic(url, "check")

    assert "No new upgrade operations detected." in done.stdout


def test_alembic_check_model_differs_fails(url: str, tmp_path: Path) -> None:
    _at(url, HEAD)
    project = _project_with_weight(tmp_path)

    done = alembic(url, "check", cwd=project, check=False)

    assert done.returncode != 0
    assert "New upgrade operations detected" in done.stderr
    assert "'products', Column('weight'" in done.stderr


def test_alembic_revision_writes_an_empty_typed_revision_after_head(url: str, tmp_path: Path) -> None:
    project = copy_project(ROOT, tmp_path / "project")

    alembic(url, "revision", "-m", "add widgets", cwd=project)

    [created] = _new_revision_files(project)
    source = created.read_text()
    stamp = re.search(r"Create Date: (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})", source)
    assert stamp is not None
    year, month, day, hour, minute = stamp.groups()
    assert re.fullmatch(rf"{year}_{month}_{day}_{hour}{minute}-[0-9a-f]{{12}}_add_widgets\.py", created.name)
    assert f'down_revision: str | Sequence[str] | None = "{HEAD}"' in source
    assert 'def upgrade() -> None:\n    """Apply this revision."""\n    pass\n' in source
    assert 'def downgrade() -> None:\n    """Revert this revision."""\n    pass\n' in source


def test_alembic_revision_autogenerate_writes_the_detected_change(url: str, tmp_path: Path) -> None:
    _at(url, HEAD)
    project = _project_with_weight(tmp_path)

    alembic(url, "revision", "--autogenerate", "-m", "add weight to products", cwd=project)

    [created] = _new_revision_files(project)
    source = created.read_text()
    assert 'op.add_column("products", sa.Column("weight", sa.Integer(), nullable=True))' in source
    assert 'op.drop_column("products", "weight")' in source
    assert "###" not in source
    assert database_revisions(url) == {HEAD}


def test_revision_files_sort_in_history_order() -> None:
    by_name = {Path(s.path).name: s.revision for s in SCRIPTS.walk_revisions() if s.path}

    assert [by_name[name] for name in sorted(by_name)] == HISTORY


@pytest.mark.parametrize("flag", ["cmd_opts", "attributes"])
def test_revision_autogenerate_without_changes_writes_nothing(url: str, tmp_path: Path, flag: str) -> None:
    _at(url, HEAD)
    project = copy_project(ROOT, tmp_path / "project")
    config = alembic_config(project, url=url)
    if flag == "cmd_opts":  # how the alembic command says it
        config.cmd_opts = argparse.Namespace(autogenerate=True)
    else:  # how `pgbe db revision --autogenerate` says it
        config.attributes["autogenerate"] = True

    command.revision(config, message="nothing", autogenerate=True)

    assert _new_revision_files(project) == []


def test_pgbe_db_upgrade_current_and_check_wrap_alembic(url: str) -> None:
    _at(url, "0002")

    upgraded = run_cli("pgbe", "db", "upgrade", cwd=ROOT, url=url)
    current = run_cli("pgbe", "db", "current", cwd=ROOT, url=url)
    checked = run_cli("pgbe", "db", "check", cwd=ROOT, url=url)

    assert "Running upgrade 0002 -> 0003" in upgraded.stderr
    assert database_revisions(url) == {HEAD}
    assert current.stdout.strip() == f"{HEAD} (head)"
    assert "No new upgrade operations detected." in checked.stdout


def test_pgbe_db_check_model_differs_exits_non_zero(url: str, tmp_path: Path) -> None:
    _at(url, HEAD)
    project = _project_with_weight(tmp_path)

    done = run_cli("pgbe", "db", "check", cwd=project, url=url, check=False)

    assert done.returncode == 1
    assert "error: New upgrade operations detected" in done.stderr


def test_pgbe_db_downgrade_minus_one_is_a_relative_revision(url: str) -> None:
    _at(url, HEAD)

    run_cli("pgbe", "db", "downgrade", "-1", cwd=ROOT, url=url)

    assert database_revisions(url) == {HISTORY[-2]}


def _wait_for_blocked_migrator(
    holder: psycopg.Connection[tuple[object, ...]], migrator: subprocess.Popen[str]
) -> None:
    """Return once another session waits for the migration lock; fail if the migrator exits first."""
    query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s"
    for _ in range(2400):  # a guard against hanging, not a timing assertion
        row = holder.execute(query, (MIGRATION_LOCK_KEY,)).fetchone()
        if row and row[0]:
            return
        if migrator.poll() is not None:
            raise AssertionError(f"the migrator did not wait: {migrator.communicate()}")
        time.sleep(0.05)
    raise AssertionError("no session ever waited for the migration lock")


def test_alembic_upgrade_waits_for_a_running_migrator_then_applies_once(url: str) -> None:
    _at(url, "base")
    env = {**os.environ, "DATABASE_URL": url}
    with psycopg.connect(libpq_dsn(url), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        migrator = subprocess.Popen(
            [console_script("alembic"), "upgrade", "head"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for_blocked_migrator(holder, migrator)
            assert database_revisions(url) == set()
            holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
            _, err = migrator.communicate(timeout=600)
        finally:
            if migrator.poll() is None:
                migrator.kill()
                migrator.communicate()

    assert migrator.returncode == 0, err
    assert database_revisions(url) == {HEAD}
