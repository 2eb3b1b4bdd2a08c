"""The application's database: engines, sessions and the `get_db` / `get_read_db` dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.config.settings import get_settings
from pgbe.db.database import Database

database = Database(get_settings())

engine = database.engine
SessionLocal = database.SessionLocal
async_engine = database.async_engine
AsyncSessionLocal = database.AsyncSessionLocal


def get_db() -> Iterator[Session]:
    """Yield a session for one request; rolled back on error and always closed."""
    yield from database.session()


def get_read_db() -> Iterator[Session]:
    """Yield a session reading from a replica (primary after a write, or while replicas lag)."""
    yield from database.read_session()


async def get_async_db() -> AsyncIterator[AsyncSession]:
    """Yield an async session for one request; rolled back on error and always closed."""
    # Not `async for`: an error thrown in here must reach database.async_session to roll back.
    async with asynccontextmanager(database.async_session)() as session:
        yield session
