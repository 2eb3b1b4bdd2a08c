"""Helpers for testing a project's migrations: the `alembic` command as a user runs it, project copies."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg

from pgbe.db.database import libpq_dsn

PROJECT_FILES = ("alembic.ini", "pyproject.toml")
PROJECT_DIRS = ("app", "migrations")


def console_script(name: str) -> str:
    """Return the path of a console script installed beside the running Python (alembic, pgbe)."""
    return str(Path(sys.executable).parent / name)


def run_cli(
    program: str, *args: str, cwd: Path, url: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `program args` in `cwd` with DATABASE_URL set to `url`; raise with its output on failure."""
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(  # noqa: S603 - a console script of this virtualenv
        [console_script(program), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{program} {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


def copy_project(root: Path, destination: Path) -> Path:
    """Copy what the migration tools need (alembic.ini, migrations/, app/) into `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT_DIRS:
        shutil.copytree(root / name, destination / name, ignore=ignore)
    for name in PROJECT_FILES:
        if (root / name).exists():
            shutil.copy2(root / name, destination / name)
    return destination


def database_revisions(url: str) -> set[str]:
    """Return the revisions recorded in the database's alembic_version table (empty when none)."""
    with psycopg.connect(libpq_dsn(url)) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return set()
        return {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}


def write_revision(
    versions: Path, revision: str, down: str, upgrade: str, *, downgrade: str = "pass", comments: str = ""
) -> Path:
    """Write revision `revision` (after `down`) to `versions`: `upgrade` and `downgrade` are their bodies.

    `comments` goes between the identifiers and the functions (the linter's allow comments).
    """
    path = versions / f"2099_01_01_0000-{revision}_test.py"
    path.write_text(
        f'"""Test revision {revision}."""\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {revision!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n"
        f"{comments}\n\n"
        f"def upgrade() -> None:\n{textwrap.indent(upgrade.strip(), '    ')}\n\n\n"
        f"def downgrade() -> None:\n{textwrap.indent(downgrade.strip(), '    ')}\n"
    )
    return path
