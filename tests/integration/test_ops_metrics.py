"""Prometheus metrics of `pgbe run --workers 2`: one scrape adds up both workers; never public."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pgbe.testing.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-tests"
HISTOGRAM = "pgbe_http_request_duration_seconds"


class PgbeRun:
    """`pgbe run --workers 2` in a process group of its own, on a scratch database."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [
            str(Path(sys.executable).with_name("pgbe")),
            "run",
            "--workers",
            "2",
            "--port",
            str(self.port),
        ]
        env = {**os.environ, **env, "METRICS_PORT": str(self.metrics_port), "HOST": "127.0.0.1"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"pgbe run did not start:\n{log.read_text()}")

    def stop(self) -> None:
        """SIGTERM the supervisor and its workers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgbeRun]:
    import psycopg

    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]  # the run's server (set by pgbe's plugin)
    name = f"pgbe_metrics_{os.getpid()}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        "DATABASE_URL": f"{base}/{name}",
        "ENVIRONMENT": "test",
        "SECRET_KEY": "a-test-secret-that-is-long-enough-0123456789",
        "METRICS_TOKEN": TOKEN,
        "LOG_FORMAT": "json",
    }
    run = PgbeRun(env, tmp_path_factory.mktemp("metrics") / "run.log")
    try:
        yield run
    finally:
        run.stop()
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sample(text: str, name: str, **labels: str) -> float:
    """Add up the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if not head.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', head[len(name) + 1 : -1]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


def test_metrics_of_two_workers_add_up_in_one_scrape(server: PgbeRun) -> None:
    for i in range(40):  # a new connection each time: the kernel hands them to either worker
        response = httpx.get(f"{server.url}/products/{2_000_000_000 + i}", headers={"Connection": "close"})
        assert response.status_code == 404

    scrape = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    separate = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics")

    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    for text in (scrape.text, separate.text):
        route = "/products/{id}"
        assert _sample(text, f"{HISTOGRAM}_count", route=route, status="404", method="GET") == 40
        assert _sample(text, f"{HISTOGRAM}_bucket", route=route, le="+Inf") == 40
        # each worker samples its pools at start-up: the sync engine's exists in both
        assert 'pgbe_db_pool_connections{pool="primary-sync",state="idle"}' in text
    # both workers write to the one directory (on a loaded machine the second may still be starting)
    deadline = time.monotonic() + 60
    while len(pids := {p.name.rsplit("_", 1)[1] for p in _multiproc_files(server)}) < 2:
        assert time.monotonic() < deadline, pids
        time.sleep(0.2)
    assert len(pids) == 2, pids


def _multiproc_files(server: PgbeRun) -> list[Path]:
    """The sample files of the run's workers (PROMETHEUS_MULTIPROC_DIR, made by `pgbe run`)."""
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(server.process.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    for pid in children:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        for entry in environ:
            if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                return list(Path(entry.split(b"=", 1)[1].decode()).glob("gauge_livesum_*.db"))
    raise AssertionError("no worker has PROMETHEUS_MULTIPROC_DIR")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_metrics_without_the_token_are_not_found(server: PgbeRun, headers: dict[str, str]) -> None:
    response = httpx.get(f"{server.url}/metrics", headers=headers)

    assert response.status_code == 404
    assert b"pgbe_http" not in response.content


def test_access_log_of_pgbe_run_is_json_with_request_id(server: PgbeRun) -> None:
    response = httpx.get(f"{server.url}/health/live", headers={"X-Request-ID": "run-log-1"})

    assert response.headers["x-request-id"] == "run-log-1"
    deadline = time.monotonic() + 5
    while b'"request_id":"run-log-1"' not in server.log.read_bytes():
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.05)
    assert b"INFO:" not in server.log.read_bytes()  # uvicorn's own format is gone too
