"""Test set-up: one migrated database per run on real PostgreSQL, one rolled-back transaction per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from pgbe.testing.api import ApiClient
from pgbe.testing.databases import TestServer

# Session fixtures of the fault tests (a private cluster, the app under uvicorn).
pytest_plugins = ["tests.fault_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
_server: TestServer | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Create and migrate the run's database before any application module is imported."""
    global _server
    if hasattr(config, "workerinput"):
        return
    from alembic import command

    from pgbe.migrations import alembic_config

    _server = TestServer.start()
    url = direct_url = _server.create_database()
    bouncer = os.environ.get("PGBE_TEST_PGBOUNCER_URL")
    if bouncer:
        # The app's connections go through a transaction-pooling PgBouncer in front of the test
        # server; migrations and database creation go to the server directly.
        via = make_url(bouncer)
        url = make_url(url).set(host=via.host, port=via.port).render_as_string(hide_password=False)
        os.environ["DB_PGBOUNCER"] = "true"
    os.environ["DATABASE_URL"] = url
    os.environ["ENVIRONMENT"] = "test"
    os.environ.pop("DATABASE_REPLICA_URLS", None)
    command.upgrade(alembic_config(ROOT, url=direct_url), "head")
    config.stash[_url_key] = url


_url_key = pytest.StashKey[str]()


def pytest_report_header(config: pytest.Config) -> str:
    """Say which database the tests use."""
    from pgbe.database import describe

    where = "embedded PostgreSQL (pgserver)" if _server and _server.embedded_dir else "TEST_DATABASE_URL"
    return f"database: {describe(config.stash[_url_key])} [{where}]"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Drop the run's databases and stop an embedded server."""
    if _server is None:
        return
    try:
        from app.config.database import database

        if "engine" in database.__dict__:
            database.engine.dispose()
    finally:
        _server.close()


@pytest.fixture(scope="session")
def test_server() -> TestServer:
    """The PostgreSQL server of this run, for tests that need databases of their own."""
    assert _server is not None
    return _server


@pytest.fixture(scope="session")
def database_url() -> str:
    """URL of the run's migrated database."""
    return os.environ["DATABASE_URL"]


@pytest.fixture
def scratch_database(test_server: TestServer) -> Iterator[str]:
    """An empty database of its own, dropped after the test."""
    url = test_server.create_database("pgbe_scratch")
    yield url
    test_server.drop_database(url)


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The application's sync engine, on the run's database."""
    from app.config.database import engine as app_engine

    return app_engine


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A Session whose commits become savepoints of one transaction rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
async def api() -> AsyncIterator[ApiClient]:
    """An async HTTP client on the app; its database work is one transaction rolled back after the test.

    `api.conn` is that transaction's asyncpg connection, `api.queries` counts the statements run on it.
    """
    from app.config.database import database
    from app.main import app
    from pgbe.testing.api import rolled_back_client

    async with rolled_back_client(app, database) as client:
        yield client


@pytest.fixture
def bearer() -> Callable[[int, str], dict[str, str]]:
    """Return `bearer(user_id, role)`: an Authorization header with a valid access token."""
    from app.config.auth import auth
    from pgbe.auth.principal import Principal

    def headers(user_id: int, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {auth.codec.issue_access(Principal(user_id=user_id, role=role))}"}

    return headers
