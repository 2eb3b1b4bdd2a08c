"""Throttled sign-ins are counted in pgbe_throttle_events_total."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from tests.auth_fixtures import client, conn, login, make_user

__all__ = ["client", "conn"]


def _throttled() -> float:
    return REGISTRY.get_sample_value("pgbe_throttle_events_total", {"kind": "login"}) or 0.0


async def test_throttled_sign_in_counted(
    client: httpx.AsyncClient, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config.auth import auth

    monkeypatch.setattr(auth.settings, "login_max_failures", 2)
    await make_user(conn, "mallory@example.com")
    before = _throttled()
    for _ in range(2):
        assert (await login(client, "mallory@example.com", "Wrong-password-1")).status_code == 401
    assert _throttled() == before

    blocked = await login(client, "mallory@example.com", "Wrong-password-1")

    assert blocked.status_code == 429
    assert _throttled() == before + 1
