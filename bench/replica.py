"""`python -m bench.replica`: GET cases served by a streaming replica against the primary alone.

Starts the scale-out cluster of the tests (primary + hot standby + PgBouncer on free loopback ports),
loads the benchmark data set on the primary and serves pgbe twice on it: primary only, and with the
replica in DATABASE_REPLICA_URLS. Each GET case runs on both, interleaved; the replica's own
statistics show that it, not the primary, answered the replica stack's reads.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

from bench import dataset
from bench.cases import CASES, Case
from bench.load import LoadResult, ensure_wrk, run_wrk
from bench.servers import Running, Stack, free_port, serve
from pgbe.db import embedded
from pgbe.db.embedded_account import server_account

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "scaleout"
RESULTS = Path(__file__).resolve().parent / "results"


@contextmanager
def scaleout_cluster() -> Iterator[tuple[int, int]]:
    """Start primary + replica (the embedded PostgreSQL's programs) on free ports; yield their ports."""
    directory = Path(tempfile.mkdtemp(prefix="pgbe-bench-scaleout-"))
    account = server_account(directory, None)
    if account is not None:
        os.chown(directory, account.uid, account.gid)
    primary, replica = free_port(), free_port()
    env = {
        **os.environ,
        "SCALEOUT_DIR": str(directory),
        "PG_BIN": str(embedded.bin_dir()),
        "RUN_AS": account.name if account else "",
        "PRIMARY_PORT": str(primary),
        "REPLICA_PORT": str(replica),
    }
    try:
        subprocess.run(["bash", str(SCRIPTS / "scaleout_up.sh")], env=env, check=True)
        yield primary, replica
    finally:
        subprocess.run(["bash", str(SCRIPTS / "scaleout_down.sh")], env=env, check=False)
        shutil.rmtree(directory, ignore_errors=True)


def _url(port: int, database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def wait_replayed(primary_url: str, replica_url: str, timeout: float = 60) -> None:
    """Wait until the replica has replayed everything written on the primary so far."""
    with psycopg.connect(primary_url, autocommit=True) as p:
        row = p.execute("SELECT pg_current_wal_lsn()").fetchone()
    assert row is not None
    deadline = time.monotonic() + timeout
    with psycopg.connect(replica_url, autocommit=True) as r:
        while True:
            done = r.execute("SELECT pg_last_wal_replay_lsn() >= %s", row).fetchone()
            if done is not None and done[0]:
                return
            if time.monotonic() > deadline:
                raise SystemExit("the replica did not catch up with the data set")
            time.sleep(0.05)


def tuples_returned(url: str) -> int:
    """Rows the server has returned from this database so far (pg_stat_database)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT tup_returned + tup_fetched FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def log(message: str) -> None:
    """Print a progress line."""
    print(f"[bench.replica {time.strftime('%H:%M:%S')}] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Measure the GET cases on pgbe with and without the replica; print and write a table."""
    parser = argparse.ArgumentParser(prog="python -m bench.replica", description=__doc__)
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", "10")))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "2")))
    parser.add_argument("--connections", type=int, default=int(os.environ.get("BENCH_CONNECTIONS", "32")))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=RESULTS)
    opts = parser.parse_args(argv)
    ensure_wrk()
    cases = [c for c in CASES if not c.writes]
    with scaleout_cluster() as (primary, replica):
        os.environ["BENCH_DATABASE_URL"] = _url(primary, "postgres")
        log("loading the benchmark data set on the primary")
        db = dataset.create()
        try:
            name = make_url(db.url).database
            assert name is not None
            replica_db = _url(replica, name)
            wait_replayed(db.url, replica_db)
            rows, served = measure(opts, cases, db.url, replica_db)
        finally:
            db.drop()
    table = render(rows, served, opts)
    print(table)
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "replica.md").write_text(table + "\n")
    log(f"wrote {opts.out / 'replica.md'}")
    return 0


Row = tuple[str, str, float, float, float, int]


def measure(
    opts: argparse.Namespace, cases: list[Case], primary_db: str, replica_db: str
) -> tuple[list[Row], dict[str, int]]:
    """Run every case on both stacks; return (case, stack, rps, p50, p99, errors) rows and who served."""
    env = {
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(36),
        "DATABASE_URL": primary_db,
        "DB_ASYNC_POOL_SIZE": str(opts.pool_size),
    }
    stacks = [
        Stack(f"pgbe {opts.workers}w primary only", "app.main:app", opts.workers, env),
        Stack(
            f"pgbe {opts.workers}w + replica",
            "app.main:app",
            opts.workers,
            {**env, "DATABASE_REPLICA_URLS": json.dumps([replica_db])},
        ),
    ]
    rows = []
    with ExitStack() as stack:
        servers: list[Running] = [stack.enter_context(serve(s, log_dir=opts.out)) for s in stacks]
        for case in cases:
            for running in servers:
                results: list[LoadResult] = []
                for _ in range(opts.rounds):
                    results.append(
                        run_wrk(
                            running.base_url,
                            case,
                            {},
                            seconds=opts.duration,
                            connections=opts.connections,
                            threads=2,
                            max_id=dataset.PRODUCTS,
                        )
                    )
                rps = sum(r.requests for r in results) / sum(r.seconds for r in results)
                p50 = statistics.median(r.p50_ms for r in results)
                p99 = max(r.p99_ms for r in results)
                errors = sum(r.errors for r in results)
                log(f"{case.key} {running.stack.name}: {rps:,.0f} req/s p50 {p50:.2f} ms errors {errors}")
                rows.append((case.key, running.stack.name, rps, p50, p99, errors))
        served = {r.stack.name: rows_read_on_replica(r, cases[0], replica_db) for r in servers}
    return rows, served


def rows_read_on_replica(running: Running, case: Case, replica_db: str, requests: int = 50) -> int:
    """Rows the replica returned while `requests` of `case` were sent to one stack.

    Backends report their statistics up to 10 s late when they go idle, hence the wait.
    """
    time.sleep(11)
    before = tuples_returned(replica_db)
    with httpx.Client(base_url=running.base_url, timeout=30) as client:
        for _ in range(requests):
            client.get(case.check_path()).raise_for_status()
    time.sleep(11)
    return tuples_returned(replica_db) - before


def render(rows: list[Row], served: dict[str, int], opts: argparse.Namespace) -> str:
    """A markdown table of the measurements."""
    lines = [
        f"Replica read benchmark: {opts.rounds} x {opts.duration:g}s per case and stack, "
        f"{opts.connections} connections, {os.cpu_count()} CPUs shared by client, servers, primary and "
        "replica.",
        "",
        "| case | stack | req/s | p50 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for case, stack, rps, p50, p99, errors in rows:
        lines.append(f"| {case} | {stack} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} |")
    lines.append("")
    lines.append(
        "Rows the replica returned (pg_stat_database) for 50 requests of the first case: "
        + ", ".join(f"{stack} {n:,}" for stack, n in served.items())
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
