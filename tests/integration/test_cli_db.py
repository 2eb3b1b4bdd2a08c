"""`pgbe db start | status | url | psql | stop` and `pgbe run`: the embedded PostgreSQL, no DATABASE_URL."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from pgbe.db import embedded
from pgbe.testing.servers import free_port

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


def _serve_then_interrupt(project: tuple[Path, dict[str, str], Path]) -> str:
    """Run `pgbe run` until it answers, press Ctrl-C (SIGINT) and return what it printed."""
    folder, env, _ = project
    port = free_port()
    server = subprocess.Popen(
        [str(PGBE), "run", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, out
    assert "serving on" in out
    return out


def test_pgbe_run_ctrl_c_stops_the_embedded_server_it_started(
    project: tuple[Path, dict[str, str], Path],
) -> None:
    _, _, data_dir = project
    out = _serve_then_interrupt(project)
    assert out.strip().splitlines()[-1] == "embedded PostgreSQL stopped"
    assert embedded.pid(data_dir) is None


def test_pgbe_run_ctrl_c_leaves_a_server_started_by_db_start_running(
    project: tuple[Path, dict[str, str], Path],
) -> None:
    _, _, data_dir = project
    _pgbe(project, "start")
    running = embedded.pid(data_dir)
    out = _serve_then_interrupt(project)
    assert out.strip().splitlines()[-1] == (
        "embedded PostgreSQL keeps running (started by pgbe db start; stop it with pgbe db stop)"
    )
    assert embedded.pid(data_dir) == running
    assert "embedded PostgreSQL stopped" in _pgbe(project, "stop")


def test_settings_from_a_subfolder_use_the_project_root_data_and_env(
    project: tuple[Path, dict[str, str], Path],
) -> None:
    folder, env, _ = project
    (folder / ".env").write_text("PROJECT_NAME=from-the-root-env\n")
    subfolder = folder / "scripts"  # a real folder (app/ and migrations/ link to this repository)
    subfolder.mkdir()
    env = {k: v for k, v in env.items() if k != "EMBEDDED_DATA_DIR"}
    code = (
        "from app.config.settings import Settings; s = Settings(); print(s.project_name, s.embedded_data_dir)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=subfolder,
        env={**env, "PYTHONPATH": str(folder)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["from-the-root-env", str(folder.resolve() / ".pgbe" / "data")]
