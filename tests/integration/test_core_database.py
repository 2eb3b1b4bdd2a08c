"""The Database built from settings: pools, per-connection limits, sync and async sessions."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.config.database import database, engine, get_async_db
from app.config.settings import get_settings
from app.models import Category
from pgbe.db.database import Database, describe, resolve_url
from pgbe.settings import PgbeSettings


def test_engine_pool_is_configured_from_settings() -> None:
    settings = get_settings()
    pool = engine.pool
    assert pool.size() == settings.db_pool_size  # type: ignore[attr-defined]
    assert pool._max_overflow == settings.db_max_overflow  # type: ignore[attr-defined]
    assert pool._timeout == settings.db_pool_timeout  # type: ignore[attr-defined]
    assert pool._recycle == settings.db_pool_recycle
    assert pool._pre_ping is True
    assert engine.dialect.driver == "psycopg"


def test_connections_carry_statement_and_idle_timeouts(db: Session) -> None:
    if get_settings().db_pgbouncer:
        pytest.skip("behind PgBouncer the limits are SET LOCAL per transaction")
    settings = get_settings()
    statement_ms = db.scalar(text("SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'"))
    idle_ms = db.scalar(
        text("SELECT setting::int FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'")
    )
    assert statement_ms == settings.db_statement_timeout_ms
    assert idle_ms == settings.db_idle_in_transaction_timeout_ms
    assert db.scalar(text("SHOW application_name")) == settings.project_name


def test_statement_timeout_cancels_a_long_statement(scratch_database: str) -> None:
    settings = PgbeSettings(db_statement_timeout_ms=100, _env_file=None)  # type: ignore[call-arg]
    short = Database(settings, url=scratch_database)
    try:
        with short.SessionLocal() as db, pytest.raises(Exception, match="statement timeout"):
            db.execute(text("SELECT pg_sleep(5)"))
    finally:
        short.engine.dispose()


def test_resolve_url_with_database_url_returns_it_and_describe_hides_the_password() -> None:
    settings = PgbeSettings(database_url="postgresql://app:s3cret@db.example:5432/app", _env_file=None)  # type: ignore[call-arg]
    assert resolve_url(settings) == "postgresql://app:s3cret@db.example:5432/app"
    assert "s3cret" not in describe(resolve_url(settings))
    assert describe("postgresql://postgres:@/postgres?host=/d") == "postgresql://postgres@/postgres?host=%2Fd"
    assert Database(settings).url.drivername == "postgresql+psycopg"


async def test_get_async_db_yields_a_working_async_session() -> None:
    try:
        async for session in get_async_db():
            assert isinstance(session, AsyncSession)
            assert (await session.execute(select(Category.id).limit(1))).all() is not None
            assert await session.scalar(text("SELECT 41 + 1")) == 42
    finally:
        await database.async_engine.dispose()


async def test_get_async_db_error_rolls_back_and_closes() -> None:
    dependency = get_async_db()
    try:
        session = await anext(dependency)
        session.add(Category(name="Async never stored"))
        await session.flush()
        assert session.in_transaction()
        with pytest.raises(ValueError, match="boom"):
            await dependency.athrow(ValueError("boom"))
        assert not session.in_transaction()
        async for check in get_async_db():
            assert (
                await check.scalar(select(Category.id).where(Category.name == "Async never stored")) is None
            )
    finally:
        await database.async_engine.dispose()
