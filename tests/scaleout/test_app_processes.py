"""The application in several processes on the scale-out cluster: shared state, replicas over HTTP.

Two servers run against the same database and replica: `pgbe run --workers 2` (a uvicorn supervisor
with two worker processes) and a single-process uvicorn. Sending one client's requests alternately
to each shows that sign-in throttling and refresh-token revocation live in PostgreSQL, not in memory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from pgbe.auth.passwords import hash_password
from pgbe.auth.principal import Principal
from pgbe.testing.servers import AppServer, free_port
from tests.scaleout.conftest import ROOT, Cluster

pytestmark = pytest.mark.scaleout

PASSWORD = "Correct-Horse-42"
EMAIL = "scaleout@example.test"
STAFF_ID, STAFF_SESSION = 1000, uuid.UUID("00000000-0000-4000-8000-000000000001")


class PgbeRun:
    """`pgbe run --workers N` in a process group of its own."""

    def __init__(self, env: dict[str, str], workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(ROOT / ".pgbe" / f"scaleout-run-{self.port}.log")
        self.log.parent.mkdir(exist_ok=True)
        pgbe = Path(sys.executable).with_name("pgbe")
        command = [
            str(pgbe),
            "run",
            "--workers",
            str(workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"pgbe run did not start:\n{self.log.read_text()}")

    def worker_pids(self) -> list[int]:
        """The worker processes under the supervisor."""
        out = subprocess.run(
            ["ps", "-ww", "-o", "pid=,args=", "--ppid", str(self.process.pid)],
            capture_output=True,
            text=True,
            check=False,
        )
        # multiprocessing's resource tracker is a child too; the workers are the spawned ones
        return [int(line.split()[0]) for line in out.stdout.splitlines() if "spawn_main" in line]

    def stop(self) -> None:
        """Stop the supervisor and its workers (SIGTERM to the process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def app_db(cluster: Cluster) -> str:
    """A migrated application database on the primary with one user, replayed on the replica."""
    from alembic import command

    from pgbe.migrations import alembic_config

    name = cluster.create_database("pgbe_app")
    command.upgrade(alembic_config(ROOT, url=cluster.primary(name)), "head")
    with psycopg.connect(cluster.primary(name), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (email, first_name, last_name, full_name, hashed_password, role, is_active)"
            " VALUES (%s, 'Scale', 'Out', 'Scale Out', %s, 'user', true)",
            (EMAIL, hash_password(PASSWORD)),
        )
        # a staff account with a sign-in session, for the writes (tokens are checked against both)
        conn.execute(
            "WITH staff AS (INSERT INTO users (id, email, first_name, last_name, hashed_password, role)"
            " VALUES (%s, 'staff@example.test', 'Scale', 'Staff', '!', 'staff') RETURNING id)"
            " INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)"
            " SELECT id, %s, md5(random()::text), now() + interval '1 day' FROM staff",
            (STAFF_ID, STAFF_SESSION),
        )
    cluster.wait_replayed()
    return name


@pytest.fixture(scope="module")
def servers(cluster: Cluster, app_db: str) -> Iterator[tuple[str, str]]:
    """Base URLs of `pgbe run --workers 2` and of a second, single-process server."""
    env = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": cluster.primary(app_db),
        "DATABASE_REPLICA_URLS": json.dumps([cluster.replica(app_db)]),
        "DB_REPLICA_MAX_LAG_SECONDS": "3600",
        "DB_POOL_SIZE": "2",
        "DB_ASYNC_POOL_SIZE": "2",
        "LOGIN_MAX_FAILURES": "3",
        "PROJECT_NAME": "pgbe-scaleout",
    }
    multi = PgbeRun(env, workers=2)
    try:
        assert len(multi.worker_pids()) == 2
        single = AppServer(ROOT, env).start()
        try:
            yield multi.url, single.url
        finally:
            single.stop()
    finally:
        multi.stop()


def _login(base: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{base}/auth/token", data={"username": EMAIL, "password": password}, timeout=30)


def test_login_throttle_across_processes_blocks_after_limit(servers: tuple[str, str]) -> None:
    a, b = servers
    for base in (a, b, a):  # three failures, spread over the processes
        assert _login(base, "Wrong-password-1").status_code == 401
    for base in (b, a, b, a):
        response = _login(base)  # even the right password: the account is blocked everywhere
        assert response.status_code == 429, response.text


def test_refresh_token_revoked_on_one_process_refused_on_others(
    servers: tuple[str, str], cluster: Cluster, app_db: str
) -> None:
    with psycopg.connect(cluster.primary(app_db), autocommit=True) as conn:
        # the throttle test blocked this account; a fresh window for this test
        conn.execute("DELETE FROM login_throttles")
    a, b = servers
    signed_in = _login(a)
    assert signed_in.status_code == 200, signed_in.text
    refresh = signed_in.json()["refresh_token"]
    rotated = httpx.post(f"{b}/auth/refresh", json={"refresh_token": refresh}, timeout=30)
    assert rotated.status_code == 200, rotated.text
    newer = rotated.json()["refresh_token"]
    # the spent token, replayed on the first process: refused (and the family revoked)
    assert httpx.post(f"{a}/auth/refresh", json={"refresh_token": refresh}, timeout=30).status_code == 401
    assert httpx.post(f"{b}/auth/refresh", json={"refresh_token": newer}, timeout=30).status_code == 401


def _staff_headers() -> dict[str, str]:
    from app.config.auth import auth

    return {"Authorization": f"Bearer {auth.codec.issue_access(Principal(STAFF_ID, 'staff', STAFF_SESSION))}"}


def test_http_write_then_read_replay_paused_token_gives_fresh_read(
    servers: tuple[str, str], paused_replica: Cluster
) -> None:
    a, b = servers
    created = httpx.post(f"{a}/categories", json={"name": "Fresh"}, headers=_staff_headers(), timeout=30)
    assert created.status_code == 201, created.text
    token = created.headers["x-min-lsn"]
    assert created.cookies.get("pgbe_min_lsn") == token
    path = f"/categories/{created.json()['id']}"

    assert httpx.get(f"{b}{path}", timeout=30).status_code == 404  # the paused replica is stale
    fresh = httpx.get(f"{b}{path}", headers={"X-Min-LSN": token}, timeout=30)
    assert fresh.status_code == 200
    assert fresh.json()["name"] == "Fresh"
    by_cookie = httpx.get(f"{a}{path}", cookies={"pgbe_min_lsn": token}, timeout=30)
    assert by_cookie.status_code == 200


def test_http_replica_stopped_reads_succeed_and_readiness_reports_it(
    servers: tuple[str, str], cluster: Cluster
) -> None:
    a, b = servers
    cluster.stop_replica()
    try:
        for base in (a, b, a, b):
            assert httpx.get(f"{base}/categories", timeout=30).status_code == 200
        ready = httpx.get(f"{b}/health/ready", timeout=30)
        assert ready.status_code == 200
        assert ready.json()["checks"]["replicas"].startswith("degraded:")
    finally:
        cluster.start_replica()
        cluster.wait_replayed()
