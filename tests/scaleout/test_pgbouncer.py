"""Through a real PgBouncer in transaction mode, with more clients than server connections."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading

import asyncpg
import psycopg
import pytest
from sqlalchemy import text

from pgbe.db.database import Database
from pgbe.settings import PgbeSettings
from tests.scaleout.conftest import ROOT, Cluster

pytestmark = [pytest.mark.scaleout, pytest.mark.usefixtures("pgbouncer")]

CLIENTS = 8  # PgBouncer has 3 server connections per database (BOUNCER_POOL_SIZE)
ROUNDS = 25


@pytest.fixture(scope="module")
def items_db(cluster: Cluster) -> str:
    """A database on the primary with 100 rows in `items`."""
    name = cluster.create_database("pgbe_bouncer")
    with psycopg.connect(cluster.primary(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL)")
        conn.execute("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 100) g")
    return name


def bouncer_database(cluster: Cluster, name: str) -> Database:
    settings = PgbeSettings(
        environment="test",
        database_url=cluster.bouncer(name),
        db_pgbouncer=True,
        db_pool_size=CLIENTS,
        db_async_pool_size=CLIENTS,
        db_statement_timeout_ms=4321,
    )
    return Database(settings)


async def _hammer_asyncpg(db: Database, **overrides: object) -> list[BaseException]:
    pool = await db.create_asyncpg_pool(db.url, min_size=CLIENTS, max_size=CLIENTS, **overrides)
    errors: list[BaseException] = []

    async def client(worker: int) -> None:
        for i in range(ROUNDS):
            try:
                async with pool.acquire() as conn, conn.transaction():
                    row_id = (worker + i) % 100 + 1
                    assert await conn.fetchval("SELECT v FROM items WHERE id = $1", row_id) == f"v{row_id}"
            except asyncpg.PostgresError as exc:
                errors.append(exc)

    try:
        await asyncio.gather(*(client(w) for w in range(CLIENTS)))
    finally:
        await pool.close()
    return errors


def _hammer_psycopg(db: Database, **overrides: object) -> list[BaseException]:
    engine = db.make_engine(db.url, **overrides) if overrides else db.engine
    errors: list[BaseException] = []

    def client(worker: int) -> None:
        for i in range(ROUNDS):
            try:
                with engine.begin() as conn:
                    row_id = (worker + i) % 100 + 1
                    value = conn.execute(text("SELECT v FROM items WHERE id = :id"), {"id": row_id}).scalar()
                    assert value == f"v{row_id}"
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    return errors


async def test_asyncpg_pool_through_pgbouncer_setting_on_no_errors_off_prepared_statement_errors(
    cluster: Cluster, items_db: str
) -> None:
    db = bouncer_database(cluster, items_db)
    assert await _hammer_asyncpg(db) == []
    errors = await _hammer_asyncpg(db, statement_cache_size=100)  # asyncpg's default
    assert errors, "server-side prepared statements were expected to break behind the bouncer"
    assert all("prepared statement" in str(e) for e in errors)


def test_sync_engine_through_pgbouncer_setting_on_no_errors_off_prepared_statement_errors(
    cluster: Cluster, items_db: str
) -> None:
    db = bouncer_database(cluster, items_db)
    assert _hammer_psycopg(db) == []
    # psycopg's default prepares a statement from its 5th execution on a connection
    errors = _hammer_psycopg(db, connect_args={"connect_timeout": 5})
    assert errors, "server-side prepared statements were expected to break behind the bouncer"
    assert all("prepared statement" in str(e) for e in errors)


def test_sync_engine_through_pgbouncer_timeouts_local_to_each_transaction(
    cluster: Cluster, items_db: str
) -> None:
    db = bouncer_database(cluster, items_db)
    try:
        with db.engine.begin() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "4321ms"
        # A session-level SET would now be visible on whichever server connection served that
        # transaction; SET LOCAL is not, so every plain connection through the bouncer sees the default.
        for _ in range(6):
            with psycopg.connect(cluster.bouncer(items_db), autocommit=True, prepare_threshold=None) as raw:
                row = raw.execute("SHOW statement_timeout").fetchone()
                assert row is not None
                assert row[0] == "0"
    finally:
        db.engine.dispose()


def test_api_suite_through_pgbouncer_transaction_mode_passes(cluster: Cluster) -> None:
    suites = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "integration").glob("test_api_*.py"))
    assert suites, "no API test modules found"
    env = {
        **os.environ,
        "TEST_DATABASE_URL": cluster.primary(),
        "PGBE_TEST_PGBOUNCER_URL": cluster.bouncer(),
    }
    env.pop("DATABASE_URL", None)
    env.pop("DB_PGBOUNCER", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x", *suites],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in summary
    assert "failed" not in summary
    assert "error" not in summary
    assert f"127.0.0.1:{cluster.bouncer_port}" in result.stdout  # the report header names the bouncer
