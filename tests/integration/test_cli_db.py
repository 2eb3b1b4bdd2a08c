"""`pgbe db start | status | url | psql | stop`: the embedded PostgreSQL of a project without DATABASE_URL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgbe.db import embedded

ROOT = Path(__file__).resolve().parents[2]
PGBE = Path(sys.executable).with_name("pgbe")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], Path]]:
    """A project folder using this repository's app, with no database configured."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "app").symlink_to(ROOT / "app")
    (folder / "migrations").symlink_to(ROOT / "migrations")
    shutil.copy(ROOT / "alembic.ini", folder / "alembic.ini")
    # A folder of its own under the temp dir: started by root, the server runs as `nobody`, which
    # cannot enter pytest's tmp_path (mode 700) but is given this folder itself.
    data_dir = Path(tempfile.mkdtemp(prefix="pgbe-cli-db-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DB_", "PGBE_TEST"))}
    env.update(EMBEDDED_DATA_DIR=str(data_dir), ENVIRONMENT="development")
    try:
        yield folder, env, data_dir
    finally:
        embedded.stop(data_dir)  # whatever happened in the test, no server is left running
        shutil.rmtree(data_dir, ignore_errors=True)


def _pgbe(project: tuple[Path, dict[str, str], Path], *args: str, stdin: str | None = None) -> str:
    folder, env, _ = project
    done = subprocess.run(
        [str(PGBE), "db", *args],
        cwd=folder,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"pgbe db {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_embedded_database_start_status_url_psql_stop_and_data_survives_restart(
    project: tuple[Path, dict[str, str], Path],
) -> None:
    _, _, data_dir = project
    assert embedded.pid(data_dir) is None

    assert "embedded PostgreSQL running" in _pgbe(project, "start")
    assert f"running, pid {embedded.pid(data_dir)}" in _pgbe(project, "status")
    assert (data_dir / "PG_VERSION").exists()  # the data lives in EMBEDDED_DATA_DIR
    url = _pgbe(project, "url").strip()
    assert url.startswith("postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (note text)")
        conn.execute("INSERT INTO kept VALUES ('written before the restart')")

    out = _pgbe(project, "psql", stdin="SELECT 'psql says ' || count(*) FROM kept;\n")
    assert "psql says 1" in out

    assert "embedded PostgreSQL stopped" in _pgbe(project, "stop")
    assert embedded.pid(data_dir) is None
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)

    _pgbe(project, "start")
    with psycopg.connect(url) as conn:  # same folder, same socket: the same URL again
        assert conn.execute("SELECT note FROM kept").fetchall() == [("written before the restart",)]
    assert "embedded PostgreSQL stopped" in _pgbe(project, "stop")
