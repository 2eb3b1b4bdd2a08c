"""The Dockerfiles and the compose file, checked without a Docker engine: linters, schema, structure."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from pgbe.testing.servers import PostgresCluster, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCKERFILES = [ROOT / "Dockerfile", ROOT / "deploy" / "pgbouncer" / "Dockerfile"]


def _tool(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _compose_check(path: Path) -> subprocess.CompletedProcess[str]:
    return _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = _run(_tool("hadolint"), str(dockerfile))

    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_compose_specification() -> None:
    result = _compose_check(ROOT / "compose.yaml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multi_stage_non_root_with_readiness_check() -> None:
    text = (ROOT / "Dockerfile").read_text()

    assert text.count("\nFROM ") == 2
    assert "USER 10001:10001" in text
    assert "/health/ready" in text.split("HEALTHCHECK", 1)[1]
    assert "dev" not in text.split("ARG PGBE_EXTRAS=", 1)[1].splitlines()[0]
    assert "COPY tests" not in text


def test_compose_runs_primary_replica_pgbouncer_migrations_then_app() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]

    assert set(services) == {"primary", "replica", "pgbouncer", "migrate", "app"}
    app = services["app"]
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "@pgbouncer:6432/" in app["environment"]["DATABASE_URL"]
    assert app["environment"]["DB_PGBOUNCER"] == "true"
    assert "@replica:5432/" in app["environment"]["DATABASE_REPLICA_URLS"]
    assert services["migrate"]["command"] == ["pgbe", "db", "upgrade"]
    assert [name for name, s in services.items() if s.get("ports")] == ["app"]  # nothing else published
    assert "--slot replica1" in (ROOT / "deploy" / "postgres" / "replica-entrypoint.sh").read_text()


def test_pgbouncer_entrypoint_config_serves_transaction_pooling() -> None:
    """The entrypoint's generated configuration, run by the PgBouncer on this machine."""
    pgbouncer = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if pgbouncer is None:
        pytest.skip("pgbouncer not found on PATH or in /usr/sbin (Debian: apt-get install pgbouncer)")
    if not PostgresCluster.available():
        pytest.skip("no PostgreSQL server binaries for a throwaway cluster")
    cluster = PostgresCluster.create()  # on loopback TCP, whatever server the test run uses
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="pgbe-bouncer-"))
    if os.geteuid() == 0:  # PgBouncer refuses to run as root: it runs as postgres, in a folder of its own
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    env = {
        **os.environ,
        "PATH": f"{Path(pgbouncer).parent}{os.pathsep}{os.environ['PATH']}",
        "CONF_DIR": str(folder / "conf"),
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(cluster.port),
        "DB_NAME": "postgres",
        "DB_USER": "postgres",
        "DB_PASSWORD": "bouncer-test-password",
        "LISTEN_ADDR": "127.0.0.1",
        "LISTEN_PORT": str(port),
    }
    command = [str(ROOT / "deploy" / "pgbouncer" / "entrypoint.sh")]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    log = folder / "pgbouncer.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        dsn = f"host=127.0.0.1 port={port} dbname=postgres user=postgres connect_timeout=2"
        deadline = time.monotonic() + 10
        while True:
            try:
                with psycopg.connect(f"{dsn} password={env['DB_PASSWORD']}", prepare_threshold=None) as conn:
                    assert conn.execute("SELECT 1").fetchone() == (1,)
                break
            except psycopg.OperationalError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "pgbouncer did not accept connections"
                time.sleep(0.1)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(f"{dsn} password=wrong").close()
        assert "pool_mode = transaction" in (folder / "conf" / "pgbouncer.ini").read_text()
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
        cluster.destroy()


def test_new_project_gets_linted_dockerfiles_compose_and_executable_scripts(tmp_path: Path) -> None:
    from pgbe.cli.new import write_project

    target = tmp_path / "my-shop"
    write_project(target)

    for dockerfile in (target / "Dockerfile", target / "deploy" / "pgbouncer" / "Dockerfile"):
        lint = _run(_tool("hadolint"), str(dockerfile))
        assert lint.returncode == 0, lint.stdout
    check = _compose_check(target / "compose.yaml")
    assert check.returncode == 0, check.stdout
    compose = yaml.safe_load((target / "compose.yaml").read_text())
    assert compose["name"] == "my-shop"
    assert compose["services"]["app"]["image"] == "my-shop:latest"
    assert (target / ".dockerignore").exists()
    for script in (target / "deploy").rglob("*.sh"):
        assert os.access(script, os.X_OK), script
    assert "{{" not in (target / "Dockerfile").read_text()
