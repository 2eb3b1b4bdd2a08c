"""Failed sign-in throttling per account and per client, in PostgreSQL and in Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from pgbe.auth import throttle
from pgbe.auth.throttle import Limit, RedisThrottle
from pgbe.testing.api import ApiClient
from tests.auth_fixtures import client, conn, login, make_user

__all__ = ["client", "conn"]

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def low_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block after 3 failures per account and 4 per client."""
    from app.config.auth import auth

    monkeypatch.setattr(auth.settings, "login_max_failures", 3)
    monkeypatch.setattr(auth.settings, "login_max_failures_per_client", 4)


@pytest.fixture
async def redis_throttle(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RedisThrottle]:
    """The app's throttle swapped for a Redis one with keys of its own, deleted afterwards."""
    from app.config.auth import auth

    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except (RedisConnectionError, OSError) as exc:
        await redis.aclose()
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    prefix = f"pgbe-test:{uuid.uuid4().hex}:"
    throttle = RedisThrottle(redis, window_seconds=900, prefix=prefix)
    monkeypatch.setattr(auth, "throttle", throttle)
    yield throttle
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def _fail(client: httpx.AsyncClient, email: str, times: int) -> None:
    for _ in range(times):
        assert (await login(client, email, "Wrong-password-1")).status_code == 401


async def _assert_blocked(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 900


async def test_throttle_account_failures_return_429_even_with_right_password(
    client: httpx.AsyncClient, conn: asyncpg.Connection, low_limits: None
) -> None:
    await make_user(conn, "amy@example.com")
    await _fail(client, "amy@example.com", 3)
    await _assert_blocked(await login(client, "amy@example.com"))
    row = await conn.fetchrow("SELECT failures FROM login_throttles WHERE key = 'account:amy@example.com'")
    assert row["failures"] == 4  # three guesses and the refused attempt: counted before any check


async def test_throttle_account_key_folds_case_and_compatibility_forms(
    client: httpx.AsyncClient, conn: asyncpg.Connection, low_limits: None
) -> None:
    await make_user(conn, "ana@example.com")
    for variant in ("ANA@example.com", "\uff41na@example.com", " Ana@Example.COM"):
        assert (await login(client, variant, "Wrong-password-1")).status_code == 401
    await _assert_blocked(await login(client, "ana@example.com"))


async def test_throttle_client_failures_across_accounts_return_429(
    client: httpx.AsyncClient, conn: asyncpg.Connection, low_limits: None
) -> None:
    await make_user(conn, "ben@example.com")
    for email in ("x1@example.com", "x2@example.com", "x3@example.com", "x4@example.com"):
        await _fail(client, email, 1)
    await _assert_blocked(await login(client, "ben@example.com"))


async def test_throttle_successful_sign_ins_do_not_use_up_the_client_limit(
    client: httpx.AsyncClient, conn: asyncpg.Connection, low_limits: None
) -> None:
    await make_user(conn, "bo@example.com")
    for _ in range(6):  # more than the client's 4: each success gives its attempt back
        assert (await login(client, "bo@example.com")).status_code == 200


async def test_throttle_successful_login_resets_account_counter(
    client: httpx.AsyncClient, conn: asyncpg.Connection, low_limits: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config.auth import auth

    monkeypatch.setattr(auth.settings, "login_max_failures_per_client", 10)
    await make_user(conn, "cy@example.com")
    await _fail(client, "cy@example.com", 2)
    assert (await login(client, "cy@example.com")).status_code == 200
    await _fail(client, "cy@example.com", 2)
    assert (await login(client, "cy@example.com")).status_code == 200


@pytest.mark.parametrize(("chance", "swept"), [(1.0, True), (0.0, False)])
async def test_throttle_sweep_rides_in_the_sign_ins_one_statement_and_spares_live_windows(
    api: ApiClient, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch, chance: float, swept: bool
) -> None:
    monkeypatch.setattr(throttle, "SWEEP_CHANCE", chance)
    await conn.execute(
        "INSERT INTO login_throttles (key, failures, window_started_at) VALUES"
        " ('account:old@example.com', 7, now() - interval '2 hours'),"
        " ('account:live@example.com', 2, now()),"
        " ('account:eve@example.com', 50, now() - interval '2 hours')"  # this sign-in's own ended window
    )
    api.queries.reset()
    assert (await login(api, "eve@example.com", "Wrong-password-1")).status_code == 401
    reservation = [s for s in api.queries.statements if "INSERT INTO login_throttles" in s]
    assert len(reservation) == 1
    assert "DELETE FROM login_throttles" in reservation[0]
    assert not [s for s in api.queries.statements if s.startswith("DELETE FROM login_throttles")]
    rows = dict(await conn.fetch("SELECT key, failures FROM login_throttles"))
    assert rows.pop("account:live@example.com") == 2
    assert rows.pop("account:eve@example.com") == 1  # a new window, not swept and counted afresh
    assert ("account:old@example.com" not in rows) is swept


async def test_throttle_redis_account_failures_return_429(
    client: httpx.AsyncClient, conn: asyncpg.Connection, low_limits: None, redis_throttle: RedisThrottle
) -> None:
    await make_user(conn, "dee@example.com")
    await _fail(client, "dee@example.com", 3)
    await _assert_blocked(await login(client, "dee@example.com"))
    assert await conn.fetchval("SELECT count(*) FROM login_throttles") == 0  # counted in Redis only
    # an operator's unblock: forget the account's attempts, give the client one back
    await redis_throttle.release([Limit("account:dee@example.com", 3), Limit("client:127.0.0.1", 4)])
    assert (await login(client, "dee@example.com")).status_code == 200


async def test_throttle_redis_reserves_up_to_the_limit_per_key_in_one_window(
    redis_throttle: RedisThrottle,
) -> None:
    limits = [Limit("account:a", 2), Limit("client:1.2.3.4", 5)]
    assert await redis_throttle.reserve(limits) is None
    assert await redis_throttle.reserve(limits) is None
    wait = await redis_throttle.reserve(limits)
    assert wait is not None
    assert 1 <= wait <= 900
    assert await redis_throttle.reserve([Limit("account:b", 2)]) is None
    await redis_throttle.release(limits)  # a success: the account forgotten, the client given one back
    assert await redis_throttle.reserve(limits) is None
    assert int(await redis_throttle.client.get(redis_throttle._prefix + "client:1.2.3.4")) == 3


async def test_throttle_redis_unreachable_refuses_sign_in_with_503(
    client: httpx.AsyncClient, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config.auth import auth
    from pgbe.auth.throttle import make_throttle

    await make_user(conn, "eli@example.com")
    throttle = make_throttle(auth.database, redis_url="redis://127.0.0.1:1/0", window_seconds=900)
    monkeypatch.setattr(auth, "throttle", throttle)
    response = await login(client, "eli@example.com")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert isinstance(throttle, RedisThrottle)
    await throttle.client.aclose()
