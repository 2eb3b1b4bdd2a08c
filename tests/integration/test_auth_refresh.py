"""Refresh tokens over HTTP: rotation, reuse detection, logout and password change revoke them."""

from __future__ import annotations

import asyncpg
import httpx

from tests.auth_fixtures import PASSWORD, Bearer, client, conn, login, make_user

__all__ = ["client", "conn"]


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotates_and_stores_only_a_hash(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    user_id = await make_user(conn, "rita@example.com", role="staff")
    first = (await login(client, "rita@example.com")).json()["refresh_token"]
    rotated = await _refresh(client, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {rotated.json()['access_token']}"})
    assert me.json()["id"] == user_id
    rows = await conn.fetch(
        "SELECT token_hash, family_id, used_at FROM refresh_tokens WHERE user_id = $1 ORDER BY id", user_id
    )
    assert len(rows) == 2
    assert rows[0]["family_id"] == rows[1]["family_id"]
    assert rows[0]["used_at"] is not None
    assert rows[1]["used_at"] is None
    assert {first, second}.isdisjoint({r["token_hash"] for r in rows})
    assert (await _refresh(client, second)).status_code == 200


async def test_refresh_reused_token_revokes_whole_family(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    user_id = await make_user(conn, "sam@example.com")
    first = (await login(client, "sam@example.com")).json()["refresh_token"]
    other_sign_in = (await login(client, "sam@example.com")).json()["refresh_token"]
    second = (await _refresh(client, first)).json()["refresh_token"]
    reuse = await _refresh(client, first)
    assert reuse.status_code == 401
    assert reuse.headers["www-authenticate"] == "Bearer"
    assert (await _refresh(client, second)).status_code == 401  # the thief's successor is dead too
    assert (await _refresh(client, other_sign_in)).status_code == 200  # another sign-in is unaffected
    live = await conn.fetchval(
        "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL AND used_at IS NULL",
        user_id,
    )
    assert live == 1


async def test_refresh_unknown_token_returns_401(client: httpx.AsyncClient) -> None:
    assert (await _refresh(client, "made-up-token")).status_code == 401


async def test_refresh_with_access_token_returns_401(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    await make_user(conn, "tia@example.com")
    access = (await login(client, "tia@example.com")).json()["access_token"]
    assert (await _refresh(client, access)).status_code == 401


async def test_refresh_deactivated_user_returns_401(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    user_id = await make_user(conn, "uma@example.com")
    token = (await login(client, "uma@example.com")).json()["refresh_token"]
    await conn.execute("UPDATE users SET is_active = false WHERE id = $1", user_id)
    assert (await _refresh(client, token)).status_code == 401


async def test_logout_revokes_family(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    await make_user(conn, "vic@example.com")
    first = (await login(client, "vic@example.com")).json()["refresh_token"]
    second = (await _refresh(client, first)).json()["refresh_token"]
    response = await client.post("/auth/logout", json={"refresh_token": second})
    assert response.status_code == 204
    assert (await _refresh(client, second)).status_code == 401


async def test_password_change_revokes_every_refresh_token(
    client: httpx.AsyncClient, conn: asyncpg.Connection, bearer: Bearer
) -> None:
    user_id = await make_user(conn, "wes@example.com")
    tokens = [(await login(client, "wes@example.com")).json()["refresh_token"] for _ in range(2)]
    new_password = "Another-Secret-7"
    response = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=bearer(user_id),
    )
    assert response.status_code == 204, response.text
    for token in tokens:
        assert (await _refresh(client, token)).status_code == 401
    assert (await login(client, "wes@example.com")).status_code == 401
    assert (await login(client, "wes@example.com", new_password)).status_code == 200


async def test_password_change_wrong_current_or_weak_new_keeps_password(
    client: httpx.AsyncClient, conn: asyncpg.Connection, bearer: Bearer
) -> None:
    user_id = await make_user(conn, "xia@example.com")
    before = await conn.fetchval("SELECT hashed_password FROM users WHERE id = $1", user_id)
    wrong = await client.post(
        "/auth/password",
        json={"current_password": "Not-my-password-1", "new_password": "Another-Secret-7"},
        headers=bearer(user_id),
    )
    assert wrong.status_code == 401
    weak = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "aaaaaaaaaaaa"},
        headers=bearer(user_id),
    )
    assert weak.status_code == 422
    assert weak.json()["field"] == "password"
    assert await conn.fetchval("SELECT hashed_password FROM users WHERE id = $1", user_id) == before


async def test_register_creates_plain_user_and_refuses_role(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    body = {"email": "yan@example.com", "first_name": "Yan", "last_name": "Li", "password": "Sign-me-up-9"}
    escalated = await client.post("/auth/register", json=body | {"role": "admin"})
    assert escalated.status_code == 422
    assert await conn.fetchval("SELECT count(*) FROM users WHERE email = 'yan@example.com'") == 0
    created = await client.post("/auth/register", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "user"
    assert "hashed_password" not in created.text
    duplicate = await client.post("/auth/register", json=body | {"email": "YAN@example.com"})
    assert duplicate.status_code == 409
    assert (await login(client, "yan@example.com", "Sign-me-up-9")).status_code == 200


async def test_register_weak_password_returns_422(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    for password in ("short1A", "alllowercaseletters", "zed@example.com"):
        body = {"email": "zed@example.com", "first_name": "Zed", "last_name": "Z", "password": password}
        response = await client.post("/auth/register", json=body)
        assert response.status_code == 422, password
    assert await conn.fetchval("SELECT count(*) FROM users WHERE email = 'zed@example.com'") == 0
