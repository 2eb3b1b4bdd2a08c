"""Scale-out fixtures: a primary, a streaming hot standby and PgBouncer (transaction mode) on loopback.

The primary and the replica are built from the embedded PostgreSQL's programs (initdb, pg_ctl,
pg_basebackup: pgbe[embedded]), else from the distribution's server package; PgBouncer from a
`pgbouncer` on PATH or in /usr/sbin, and its tests are skipped, saying why, when there is none. All
run on free ports under a temporary directory, as this user (as root: the embedded server's account),
and are stopped and deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from pgbe.db import embedded
from pgbe.db.embedded_account import server_account

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin", "/opt/homebrew/bin", "/usr/local/bin")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _pg_bin() -> Path | None:
    if embedded.available():
        return embedded.bin_dir()
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def pgbouncer_binary() -> str | None:
    """Return PgBouncer's path: on PATH, or where distributions put it (sbin, not on a user's PATH)."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path=os.pathsep.join(SBIN))


def _run_as(directory: Path) -> str:
    """The account the servers run as: "" for this user, else (as root) the embedded server's account."""
    account = server_account(directory, None)
    if account is None:
        return ""
    os.chown(directory, account.uid, account.gid)
    return account.name


@dataclass
class Cluster:
    """The running primary, replica and PgBouncer."""

    directory: Path
    primary_port: int
    replica_port: int
    bouncer_port: int
    bin_dir: Path
    run_as: str
    env: dict[str, str]

    def url(self, port: int, database: str = "postgres") -> str:
        """Return a libpq URL of `database` on the server listening on `port`."""
        return f"postgresql://postgres@127.0.0.1:{port}/{database}"

    def primary(self, database: str = "postgres") -> str:
        """URL of `database` on the primary."""
        return self.url(self.primary_port, database)

    def replica(self, database: str = "postgres") -> str:
        """URL of `database` on the replica."""
        return self.url(self.replica_port, database)

    def bouncer(self, database: str = "postgres") -> str:
        """URL of `database` through PgBouncer (to the primary)."""
        return self.url(self.bouncer_port, database)

    def _pg_ctl(self, *args: str) -> None:
        run_as = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        subprocess.run(
            [*run_as, str(self.bin_dir / "pg_ctl"), *args], check=True, capture_output=True, timeout=60
        )

    def stop_replica(self) -> None:
        """Stop the replica (fast shutdown): connections to it are refused."""
        self._pg_ctl("-D", str(self.directory / "pg" / "replica"), "-m", "fast", "-w", "stop")

    def start_replica(self) -> None:
        """Start the stopped replica again; it resumes streaming from its slot."""
        log = str(self.directory / "pg" / "replica.log")
        self._pg_ctl("-D", str(self.directory / "pg" / "replica"), "-l", log, "-w", "start")

    def set_replay_paused(self, paused: bool) -> None:
        """Pause or resume WAL replay on the replica (WAL is still received)."""
        with psycopg.connect(self.replica(), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")

    def wait_replayed(self, timeout: float = 10.0) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        with psycopg.connect(self.primary(), autocommit=True) as p:
            lsn = p.execute("SELECT pg_current_wal_lsn()").fetchone()
        assert lsn is not None
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.replica(), autocommit=True) as r:
            while True:
                row = r.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", lsn).fetchone()
                if row is not None and row[0]:
                    return
                assert time.monotonic() < deadline, "the replica did not catch up"
                time.sleep(0.01)

    def create_database(self, prefix: str = "pgbe_scaleout") -> str:
        """Create a database on the primary, wait until the replica has it, return its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.primary(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.wait_replayed()
        return name


def _run_script(name: str, env: dict[str, str], timeout: float) -> None:
    result = subprocess.run(
        ["bash", str(HERE / name)], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """Start a primary and a streaming replica on free loopback ports; stop them afterwards."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server programs: install pgbe[embedded] (or the postgresql package)")
    directory = Path(tempfile.mkdtemp(prefix="pgbe-scaleout-"))
    primary, replica, bouncer = _free_ports(3)
    run_as = _run_as(directory)
    env = {
        **os.environ,
        "SCALEOUT_DIR": str(directory),
        "PG_BIN": str(bin_dir),
        "RUN_AS": run_as,
        "PRIMARY_PORT": str(primary),
        "REPLICA_PORT": str(replica),
        "BOUNCER_PORT": str(bouncer),
        "BOUNCER_POOL_SIZE": "3",
    }
    try:
        _run_script("scaleout_up.sh", env, timeout=120)
        yield Cluster(directory, primary, replica, bouncer, bin_dir, run_as, env)
    finally:
        _run_script("scaleout_down.sh", env, timeout=120)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def pgbouncer(cluster: Cluster) -> Cluster:
    """Start PgBouncer (transaction mode) in front of the primary; skipped when none is installed."""
    binary = pgbouncer_binary()
    if binary is None:
        pytest.skip(f"pgbouncer not found on PATH or in {', '.join(SBIN)} (Debian: apt install pgbouncer)")
    _run_script("bouncer_up.sh", {**cluster.env, "PGBOUNCER": binary}, timeout=60)
    return cluster


@pytest.fixture
def paused_replica(cluster: Cluster) -> Iterator[Cluster]:
    """The replica with WAL replay paused for the test: deterministically stale."""
    cluster.set_replay_paused(True)
    try:
        yield cluster
    finally:
        cluster.set_replay_paused(False)
