"""Concurrent guesses: at most LOGIN_MAX_FAILURES passwords are checked per window, whatever the concurrency.

These run the application on its real pools (not the rolled-back test connection, which serializes
requests), against committed rows that each test removes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from pgbe.auth.passwords import HashSlots
from pgbe.auth.throttle import RedisThrottle
from pgbe.project import Project
from tests.auth_fixtures import PASSWORD, known_hash

GUESSES = 29


@pytest.fixture
def victim(database_url: str) -> Iterator[str]:
    """A committed account; it and its throttle counters are deleted afterwards."""
    email = f"victim-{uuid.uuid4().hex[:8]}@example.com"
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO users (email, first_name, last_name, hashed_password) VALUES (%s, 'V', 'Ictim', %s)",
            (email, known_hash()),
        )
    yield email
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM users WHERE email = %s", (email,))
        conn.execute(
            "DELETE FROM login_throttles WHERE key = %s OR key LIKE 'client:10.9.%%'", (f"account:{email}",)
        )


@pytest.fixture(autouse=True)
def every_guess_may_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lift the bound on hashes in flight, so that only the throttle decides which guesses are checked."""
    from app.config.auth import auth

    monkeypatch.setattr(auth, "hash_slots", HashSlots(GUESSES + 1))


@pytest.fixture
async def redis_throttle(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RedisThrottle]:
    """The app's throttle on Redis, with keys of its own deleted afterwards."""
    from app.config.auth import auth

    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        await redis.ping()
    except (RedisConnectionError, OSError) as exc:
        await redis.aclose()
        pytest.skip(f"Redis is not reachable at 127.0.0.1:6379: {exc}")
    prefix = f"pgbe-test:{uuid.uuid4().hex}:"
    throttle = RedisThrottle(redis, window_seconds=900, prefix=prefix)
    monkeypatch.setattr(auth, "throttle", throttle)
    yield throttle
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def _sign_in(project: Project, email: str, password: str, n: int) -> int:
    app = project.load("app", "app.main:app")
    # each guess from its own address, so that only the account's limit can stop them
    transport = httpx.ASGITransport(app=app, client=(f"10.9.{n // 250}.{n % 250 + 1}", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/auth/token", data={"username": email, "password": password})
    return response.status_code


async def _storm(project: Project, email: str) -> list[int]:
    passwords = ["Wrong-password-1"] * GUESSES + [PASSWORD]
    return list(await asyncio.gather(*(_sign_in(project, email, p, n) for n, p in enumerate(passwords))))


def _assert_at_most_limit_checked(statuses: list[int]) -> None:
    from app.config.auth import auth

    checked = [s for s in statuses if s != 429]
    assert len(checked) <= auth.settings.login_max_failures, statuses
    assert set(checked) <= {200, 401}
    assert statuses.count(429) >= len(statuses) - auth.settings.login_max_failures


async def test_concurrent_guesses_postgres_check_at_most_the_limit(project: Project, victim: str) -> None:
    _assert_at_most_limit_checked(await _storm(project, victim))


async def test_concurrent_guesses_redis_check_at_most_the_limit(
    project: Project, victim: str, redis_throttle: RedisThrottle
) -> None:
    _assert_at_most_limit_checked(await _storm(project, victim))
