"""Read routing against a real primary and streaming replica: who serves what, and when."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from sqlalchemy import Integer, String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pgbe.db.database import Database
from pgbe.db.read_state import begin_request, end_request, parse_lsn
from pgbe.settings import PgbeSettings
from tests.scaleout.conftest import Cluster

pytestmark = pytest.mark.scaleout

PORT = "SELECT inet_server_port()"


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(String(100))


@pytest.fixture(scope="module")
def notes_db(cluster: Cluster) -> str:
    """A database on the primary with a `notes` table, replayed on the replica."""
    name = cluster.create_database()
    with psycopg.connect(cluster.primary(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY, body varchar(100) NOT NULL)")
    cluster.wait_replayed()
    return name


def make_database(cluster: Cluster, name: str, **settings: object) -> Database:
    options: dict[str, object] = {
        "environment": "test",
        "database_url": cluster.primary(name),
        "database_replica_urls": [cluster.replica(name)],
        "db_replica_max_lag_seconds": 3600,
        "db_replica_connect_timeout": 2,
        **settings,
    }
    return Database(PgbeSettings(**options))  # type: ignore[arg-type]


@pytest.fixture
async def database(cluster: Cluster, notes_db: str) -> AsyncIterator[Database]:
    """A Database on the cluster with the replica configured."""
    db = make_database(cluster, notes_db)
    yield db
    await db.close()


@pytest.fixture
def request_scope() -> Iterator[None]:
    """A request's routing state, as the middleware sets it."""
    _, token = begin_request(None)
    yield
    end_request(token)


async def test_read_connection_with_replica_configured_is_served_by_replica(
    cluster: Cluster, database: Database
) -> None:
    async with database.borrow(read=True) as conn:
        assert await conn.fetchval(PORT) == cluster.replica_port
        assert await conn.fetchval("SELECT pg_is_in_recovery()") is True
    async with database.acquire() as conn:
        assert await conn.fetchval(PORT) == cluster.primary_port


async def test_read_connection_after_write_in_same_request_uses_primary(
    cluster: Cluster, database: Database, request_scope: None
) -> None:
    async with database.borrow(read=True) as conn:
        assert await conn.fetchval(PORT) == cluster.replica_port
    async with database.acquire() as conn:
        await conn.execute("INSERT INTO notes VALUES (100, 'sticky') ON CONFLICT DO NOTHING")
    async with database.borrow(read=True) as conn:
        assert await conn.fetchval(PORT) == cluster.primary_port


async def test_read_after_write_replay_paused_stale_without_token_fresh_with_token(
    paused_replica: Cluster, database: Database
) -> None:
    async with database.acquire() as conn:
        await conn.execute("INSERT INTO notes VALUES (1, 'written')")
        token = await database.current_lsn(conn)
    assert parse_lsn(token) is not None

    async with database.borrow(read=True) as conn:
        assert await conn.fetchval(PORT) == paused_replica.replica_port
        assert await conn.fetchval("SELECT body FROM notes WHERE id = 1") is None  # stale
    async with database.borrow(read=True, min_lsn=token) as conn:
        assert await conn.fetchval(PORT) == paused_replica.primary_port
        assert await conn.fetchval("SELECT body FROM notes WHERE id = 1") == "written"

    paused_replica.set_replay_paused(False)
    paused_replica.wait_replayed()
    async with database.borrow(read=True, min_lsn=token) as conn:
        assert await conn.fetchval(PORT) == paused_replica.replica_port
        assert await conn.fetchval("SELECT body FROM notes WHERE id = 1") == "written"


async def test_read_connection_replica_lagging_beyond_bound_uses_primary(
    cluster: Cluster, notes_db: str
) -> None:
    db = make_database(cluster, notes_db, db_replica_max_lag_seconds=0.2)
    try:
        cluster.wait_replayed()
        async with db.borrow(read=True) as conn:  # caught up: lag 0, the replica serves
            assert await conn.fetchval(PORT) == cluster.replica_port
        cluster.set_replay_paused(True)
        try:
            async with db.acquire() as conn:
                await conn.execute("INSERT INTO notes VALUES (2, 'pending') ON CONFLICT DO NOTHING")
            # the lag (age of the last replayed transaction) grows past the bound while paused
            deadline = time.monotonic() + 10
            while not (problems := await db.replica_problems()):
                assert time.monotonic() < deadline, "the paused replica never looked lagging"
                await asyncio.sleep(0.05)
            assert len(problems) == 1
            assert "lagging" in problems[0]
            async with db.borrow(read=True) as conn:
                assert await conn.fetchval(PORT) == cluster.primary_port
        finally:
            cluster.set_replay_paused(False)
    finally:
        await db.close()


async def test_read_connection_replica_stopped_falls_back_to_primary_without_error(
    cluster: Cluster, database: Database
) -> None:
    async with database.borrow(read=True) as conn:  # pool now holds a replica connection
        assert await conn.fetchval(PORT) == cluster.replica_port
    await asyncio.to_thread(cluster.stop_replica)  # the event loop keeps running, as in a server
    try:
        for _ in range(5):
            async with database.borrow(read=True) as conn:
                assert await conn.fetchval(PORT) == cluster.primary_port
        problems = await database.replica_problems()
        assert len(problems) == 1
        assert "down" in problems[0]
    finally:
        cluster.start_replica()
    cluster.wait_replayed()
    database.replicas.replicas[0].down_until = float("-inf")  # skip the back-off wait
    async with database.borrow(read=True) as conn:
        assert await conn.fetchval(PORT) == cluster.replica_port
    assert await database.replica_problems() == []


async def test_read_connection_replica_hung_skipped_after_connect_timeout(
    cluster: Cluster, notes_db: str
) -> None:
    db = make_database(cluster, notes_db, db_replica_connect_timeout=0.5)
    pid = int((cluster.directory / "pg" / "replica" / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGSTOP)  # accepts TCP connections, never answers
    try:
        async with db.borrow(read=True) as conn:
            assert await conn.fetchval(PORT) == cluster.primary_port
        assert db.replicas.replicas[0].is_down(time.monotonic())
    finally:
        os.kill(pid, signal.SIGCONT)
        await db.close()


def test_read_session_routes_reads_to_replica_and_writes_to_primary(
    cluster: Cluster, database: Database, request_scope: None
) -> None:
    with database.ReadSessionLocal() as session:
        assert session.execute(select(text("inet_server_port()"))).scalar() == cluster.replica_port
        assert session.get(Note, 12345) is None
        session.add(Note(id=50, body="from the session"))
        session.flush()
        # sticky: after the write, reads see it on the primary
        assert session.execute(select(text("inet_server_port()"))).scalar() == cluster.primary_port
        assert session.get(Note, 50) is not None
        session.commit()


def test_read_session_raw_sql_primary_unless_marked_read_only(cluster: Cluster, database: Database) -> None:
    with database.ReadSessionLocal() as session:
        marked = text(PORT).execution_options(read_only=True)
        assert session.execute(marked).scalar() == cluster.replica_port
    with database.ReadSessionLocal() as session:
        assert session.execute(text(PORT)).scalar() == cluster.primary_port


def test_read_session_select_for_update_goes_to_primary(cluster: Cluster, database: Database) -> None:
    with database.ReadSessionLocal() as session:
        row = session.execute(select(text("inet_server_port()")).with_for_update()).scalar()
        assert row == cluster.primary_port


def test_read_session_replica_stopped_reads_from_primary(cluster: Cluster, database: Database) -> None:
    with database.ReadSessionLocal() as session:
        assert session.execute(select(text("inet_server_port()"))).scalar() == cluster.replica_port
    cluster.stop_replica()
    try:
        with database.ReadSessionLocal() as session:
            assert session.execute(select(text("inet_server_port()"))).scalar() == cluster.primary_port
    finally:
        cluster.start_replica()
        cluster.wait_replayed()
