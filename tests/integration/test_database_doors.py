"""The Database's doors: every one borrows through `borrow`; a write behind a replica and its statements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from app.config.settings import get_settings
from app.models import Category
from app.schemas.category import CategoryCreate, CategoryRead
from pgbe.db.database import Database
from pgbe.db.errors import translated
from pgbe.db.read_state import begin_request, current_routing, end_request
from pgbe.errors import ConflictError
from pgbe.http.problems import install_problem_handlers
from pgbe.http.replicas import ReadYourWritesMiddleware
from pgbe.resources import Permissions, Resource, ResourceRegistry, register
from pgbe.testing.api import ApiClient, rolled_back_client

ANYONE = Permissions(create=lambda principal: None, delete=lambda principal: None)


@pytest.fixture
async def behind_replica(database_url: str) -> AsyncIterator[ApiClient]:
    """Shelves served with a replica configured (the primary itself: it answers the status query)."""
    settings = get_settings().model_copy(update={"database_replica_urls": [database_url]})
    database = Database(settings, url=database_url)
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(ReadYourWritesMiddleware, database=database)
    shelves = Resource(
        Category, read=CategoryRead, create=CategoryCreate, path="/shelves", permissions=ANYONE
    )
    register(app, shelves, registry=ResourceRegistry(database, settings))
    async with rolled_back_client(app, database) as client:
        yield client
    await database.close()


async def test_write_behind_replica_runs_write_and_one_lsn_read(behind_replica: ApiClient) -> None:
    behind_replica.queries.reset()
    created = await behind_replica.post("/shelves", json={"name": "Doors"})
    assert created.status_code == 201, created.text
    # the write itself, then the WAL position after its commit: the read-your-writes token
    assert behind_replica.queries.count == 2
    assert "pg_current_wal_lsn" in behind_replica.queries.statements[1]
    assert created.headers["x-min-lsn"]


async def test_refused_write_behind_replica_runs_one_statement_and_hands_out_no_token(
    behind_replica: ApiClient,
) -> None:
    behind_replica.queries.reset()
    missing = await behind_replica.delete("/shelves/999999999")
    assert missing.status_code == 404
    assert behind_replica.queries.count == 1
    assert "x-min-lsn" not in missing.headers


class Recorder:
    """A `borrow` that lends one connection and notes what each door asked for."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.calls: list[dict[str, Any]] = []

    @asynccontextmanager
    async def __call__(self, **kwargs: Any) -> AsyncIterator[asyncpg.Connection]:
        self.calls.append(kwargs)
        yield self.conn


@pytest.fixture
async def recorded(database_url: str) -> AsyncIterator[tuple[Database, Recorder]]:
    """A Database whose `borrow` is replaced, as the test client does, and nothing else."""
    database = Database(get_settings(), url=database_url)
    conn = await asyncpg.connect(database_url)
    recorder = Recorder(conn)
    database.borrow = recorder  # type: ignore[method-assign]
    try:
        yield database, recorder
    finally:
        await conn.close()


async def test_every_door_borrows_through_the_one_seam(recorded: tuple[Database, Recorder]) -> None:
    database, recorder = recorded
    assert await database.run_read(lambda conn: conn.fetchval("SELECT 1"), min_lsn="0/1") == 1
    assert await database.run_write(lambda conn: conn.fetchval("SELECT 2")) == 2
    async with database.acquire() as conn:
        assert await conn.fetchval("SELECT 3") == 3
    assert await database.current_lsn()
    assert recorder.calls == [{"read": True, "min_lsn": "0/1"}, {}, {}, {}]


async def test_write_doors_send_the_rest_of_the_request_to_the_primary(
    recorded: tuple[Database, Recorder],
) -> None:
    database, _ = recorded
    state, token = begin_request(None)
    try:
        await database.run_read(lambda conn: conn.fetchval("SELECT 1"))
        assert current_routing() is state
        assert not state.wrote
        await database.run_write(lambda conn: conn.fetchval("SELECT 1"))
        assert state.wrote
    finally:
        end_request(token)


async def test_translated_raises_conflict_from_unique_violation(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TEMP TABLE doors (name text UNIQUE)")
        await conn.execute("INSERT INTO doors VALUES ('a')")
        with pytest.raises(ConflictError, match="already exists") as raised, translated():
            await conn.execute("INSERT INTO doors VALUES ('a')")
        assert isinstance(raised.value.__cause__, asyncpg.UniqueViolationError)
        with pytest.raises(asyncpg.UndefinedTableError), translated():  # no known kind: unchanged
            await conn.execute("SELECT * FROM no_such_table")
    finally:
        await conn.close()
