"""Password hashing and heavy reads as levers: duplicates first, rate limits, a bound on hashes in flight."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, Response
from limits import parse
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from app.config.settings import Settings
from app.models import BaseModel
from pgbe import create_app
from pgbe.auth import service
from pgbe.auth.passwords import HashSlots
from pgbe.db.database import Database
from pgbe.errors import ServiceUnavailableError, TooManyRequestsError
from pgbe.http.rate_limits import RateLimits
from pgbe.testing.api import ApiClient, rolled_back_client
from tests.auth_fixtures import PASSWORD, client, conn, login, make_user

__all__ = ["client", "conn"]

NEW_USER = {"first_name": "Nia", "last_name": "New", "password": "Another-Secret-7"}


@pytest.fixture
def rules(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """Set one rate-limit rule of the application for this test: `rules("signup", "2/hour")`."""
    from app.main import app

    limits = app.state.rate_limits

    def set_rule(name: str, rule: str) -> None:
        monkeypatch.setitem(limits.rules, name, parse(rule))

    return set_rule


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the password hashes and checks the sign-in and sign-up paths run."""
    seen: list[str] = []
    for name in ("hash_password", "verify_password", "verify_dummy"):
        real = getattr(service, name)

        def counted(*args: Any, _real: Any = real, _name: str = name) -> Any:
            seen.append(_name)
            return _real(*args)

        monkeypatch.setattr(service, name, counted)
    return seen


async def _register(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/auth/register", json={**NEW_USER, "email": email})


async def test_signup_duplicate_email_answers_409_without_hashing(
    client: httpx.AsyncClient, conn: asyncpg.Connection, hashes: list[str]
) -> None:
    await make_user(conn, "taken@example.com")
    before = await conn.fetchval("SELECT count(*) FROM users")
    for variant in ("taken@example.com", "TAKEN@example.com"):
        response = await _register(client, variant)
        assert response.status_code == 409, response.text
    assert hashes == []
    assert await conn.fetchval("SELECT count(*) FROM users") == before
    assert (await _register(client, "fresh@example.com")).status_code == 201
    assert hashes == ["hash_password"]


async def test_signup_rate_limited_per_client_before_any_work(
    client: httpx.AsyncClient, conn: asyncpg.Connection, rules: Callable[[str, str], None], hashes: list[str]
) -> None:
    rules("signup", "2/hour")
    assert (await _register(client, "one@example.com")).status_code == 201
    assert (await _register(client, "two@example.com")).status_code == 201
    before = await conn.fetchval("SELECT count(*) FROM users")
    refused = await _register(client, "three@example.com")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert len(hashes) == 2
    assert await conn.fetchval("SELECT count(*) FROM users") == before
    assert await conn.fetchval("SELECT count(*) FROM users WHERE email = 'three@example.com'") == 0


async def test_signin_rate_limited_per_client_even_with_right_password(
    client: httpx.AsyncClient, conn: asyncpg.Connection, rules: Callable[[str, str], None], hashes: list[str]
) -> None:
    rules("signin", "3/minute")
    await make_user(conn, "busy@example.com")
    for _ in range(3):
        assert (await login(client, "busy@example.com")).status_code == 200
    sessions = await conn.fetchval("SELECT count(*) FROM refresh_tokens")
    throttles = await conn.fetch("SELECT key, failures FROM login_throttles ORDER BY key")
    refused = await login(client, "busy@example.com")
    assert refused.status_code == 429
    assert "retry-after" in refused.headers
    assert len(hashes) == 3  # the refused sign-in checked no password
    assert await conn.fetchval("SELECT count(*) FROM refresh_tokens") == sessions
    assert await conn.fetch("SELECT key, failures FROM login_throttles ORDER BY key") == throttles


@pytest.fixture
def held_hash(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Password checks wait for `release` (after setting `entered`), so that one can be held in flight."""
    entered, release = threading.Event(), threading.Event()
    real = service.verify_password

    def slow(password: str, hashed: str) -> tuple[bool, str | None]:
        entered.set()
        release.wait(10)
        return real(password, hashed)

    monkeypatch.setattr(service, "verify_password", slow)
    yield entered, release
    release.set()


async def test_hashes_beyond_the_bound_get_503_at_once(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    held_hash: tuple[threading.Event, threading.Event],
) -> None:
    from app.config.auth import auth

    monkeypatch.setattr(auth, "hash_slots", HashSlots(1))
    entered, release = held_hash
    await make_user(conn, "first@example.com")
    await make_user(conn, "second@example.com")
    first = asyncio.create_task(login(client, "first@example.com"))
    while not entered.is_set():
        await asyncio.sleep(0.01)
    started = time.monotonic()
    refused = await login(client, "second@example.com")
    elapsed = time.monotonic() - started
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert elapsed < 0.5
    # the refused sign-in used none of the account's attempts
    assert (
        await conn.fetchval("SELECT count(*) FROM login_throttles WHERE key LIKE '%second@example.com'") == 0
    )
    release.set()
    assert (await first).status_code == 200
    assert (await login(client, "second@example.com")).status_code == 200  # the slot is free again


async def test_password_change_current_password_is_throttled(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    bearer: Callable[..., dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.config.auth import auth

    monkeypatch.setattr(auth.settings, "login_max_failures", 3)
    user_id = await make_user(conn, "guess@example.com")
    header = bearer(user_id, "user")
    before = await conn.fetchval("SELECT hashed_password FROM users WHERE id = $1", user_id)
    for _ in range(3):
        wrong = await client.post(
            "/auth/password",
            json={"current_password": "Not-my-password-1", "new_password": "Another-Secret-7"},
            headers=header,
        )
        assert wrong.status_code == 401
    right = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "Another-Secret-7"},
        headers=header,
    )
    assert right.status_code == 429
    assert await conn.fetchval("SELECT hashed_password FROM users WHERE id = $1", user_id) == before


async def test_anonymous_list_rate_limited_per_client_without_a_statement(
    api: ApiClient, rules: Callable[[str, str], None], bearer: Callable[..., dict[str, str]]
) -> None:
    rules("anonymous_list", "2/minute")
    assert (await api.get("/products")).status_code == 200
    assert (await api.get("/products?limit=5")).status_code == 200
    api.queries.reset()
    refused = await api.get("/products")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert api.queries.count == 0
    assert (await api.get("/products", headers=bearer(1, "user"))).status_code == 200  # callers with a token
    assert (await api.get("/products/1")).status_code in (200, 404)  # one row is not a heavy list


@pytest.mark.parametrize(("environment", "secure"), [("production", True), ("development", False)])
async def test_read_your_writes_cookie_is_secure_outside_development(
    database_url: str, environment: str, secure: bool
) -> None:
    settings = Settings(
        environment=environment,
        database_url=database_url,
        database_replica_urls=[database_url],
        allowed_hosts=["test"],
    )
    database = Database(settings)
    router = APIRouter()

    @router.post("/ping", status_code=204)
    async def ping() -> Response:
        return Response(status_code=204)

    application = create_app(settings=settings, database=database, models=BaseModel, routers=[router])
    try:
        async with rolled_back_client(application, database) as api:
            response = await api.post("/ping")
    finally:
        await database.close()
    assert response.status_code == 204
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("pgbe_min_lsn=")
    assert ("; Secure" in cookie) is secure


async def test_rate_limits_shared_through_redis_and_refused_when_it_is_down() -> None:
    redis_url = "redis://127.0.0.1:6379/0"
    client = Redis.from_url(redis_url)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as exc:
        pytest.skip(f"Redis is not reachable at {redis_url}: {exc}")
    finally:
        await client.aclose()
    settings = Settings(redis_url=redis_url, signup_rate_limit="2/minute")
    one, two = RateLimits.from_settings(settings), RateLimits.from_settings(settings)  # two workers
    down = RateLimits.from_settings(Settings(redis_url="redis://127.0.0.1:1/0", signup_rate_limit="2/minute"))
    address = f"client-{uuid.uuid4().hex}"
    try:
        await one.hit("signup", address)
        await two.hit("signup", address)
        with pytest.raises(TooManyRequestsError):
            await one.hit("signup", address)
        with pytest.raises(ServiceUnavailableError):
            await down.hit("signup", address)
    finally:
        for limits in (one, two, down):  # the store's own Redis client (limits keeps it as bridge.storage)
            await limits.storage.bridge.storage.aclose()
