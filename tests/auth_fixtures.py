"""Helpers of the auth tests: users with a known password, bearer headers, the sign-in form."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import lru_cache

import asyncpg
import httpx
import pytest

from pgbe.auth.passwords import hash_password
from pgbe.auth.principal import Principal
from pgbe.testing.api import ApiClient

PASSWORD = "Correct-Horse-42"


@lru_cache(maxsize=4)
def known_hash(password: str = PASSWORD) -> str:
    """Hash a password once per run (argon2 is slow on purpose)."""
    return hash_password(password)


@pytest.fixture
def client(api: ApiClient) -> ApiClient:
    """The shared `api` client (see tests/conftest.py): requests run on one rolled-back connection."""
    return api


@pytest.fixture
def conn(api: ApiClient) -> asyncpg.Connection:
    """The connection every request of the test uses, to set up rows and check what changed."""
    return api.conn


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


Bearer = Callable[..., dict[str, str]]
"""The `bearer` fixture: `bearer(user_id, role="user")` signs that account in for the next request."""


def bearer_for(user_id: int, role: str, session_id: uuid.UUID) -> dict[str, str]:
    """Return an Authorization header for a session that already exists (servers outside the test)."""
    from app.config.auth import auth

    token = auth.codec.issue_access(Principal(user_id=user_id, role=role, session_id=session_id))
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Post the OAuth2 password form."""
    return await client.post("/auth/token", data={"username": email, "password": password})
