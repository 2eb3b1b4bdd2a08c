"""Fixtures of the auth tests: an HTTP client on the app whose asyncpg connection is rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import asyncpg
import httpx
import pytest

from pgbe.auth.passwords import hash_password
from pgbe.auth.principal import Principal

PASSWORD = "Correct-Horse-42"


@lru_cache(maxsize=4)
def known_hash(password: str = PASSWORD) -> str:
    """Hash a password once per run (argon2 is slow on purpose)."""
    return hash_password(password)


@pytest.fixture(scope="session")
async def _app_pool() -> AsyncIterator[None]:
    """Close the app's asyncpg pool when the run ends."""
    from app.config.database import database

    yield
    await database.close()


@pytest.fixture
async def conn(monkeypatch: pytest.MonkeyPatch, _app_pool: None) -> AsyncIterator[asyncpg.Connection]:
    """One connection of the app's pool inside a transaction rolled back after the test.

    Every `database.acquire()` of the app yields it, so requests and assertions see the same rows.
    """
    from app.config.database import database

    pool = await database.pool()
    raw = await pool.acquire()
    transaction = raw.transaction()
    await transaction.start()

    @asynccontextmanager
    async def acquire(*_: Any, **__: Any) -> AsyncIterator[asyncpg.Connection]:
        yield raw

    monkeypatch.setattr(database, "acquire", acquire)
    monkeypatch.setattr(database, "acquire_read", acquire)
    try:
        yield raw
    finally:
        await transaction.rollback()
        await pool.release(raw)


@pytest.fixture
async def client(conn: asyncpg.Connection) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the application, on the rolled-back connection."""
    from app.main import app

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def make_user(
    conn: asyncpg.Connection,
    email: str,
    *,
    role: str = "user",
    hashed: str | None = None,
    active: bool = True,
) -> int:
    """Insert a user directly and return its id."""
    user_id: int = await conn.fetchval(
        "INSERT INTO users (email, first_name, last_name, full_name, hashed_password, role, is_active)"
        " VALUES ($1, 'Test', 'User', 'Test User', $2, $3, $4) RETURNING id",
        email,
        hashed or known_hash(),
        role,
        active,
    )
    return user_id


def bearer(user_id: int, role: str = "user") -> dict[str, str]:
    """Return an Authorization header with a fresh access token for this user."""
    from app.config.auth import auth

    token = auth.codec.issue_access(Principal(user_id=user_id, role=role))
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Post the OAuth2 password form."""
    return await client.post("/auth/token", data={"username": email, "password": password})
