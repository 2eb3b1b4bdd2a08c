"""Access tokens follow the account: its current role and active state, and the life of its sign-in session.

Every generated endpoint carries the session guard inside its one statement; these tests change the
account or the session behind a token and check that the token does nothing from that moment.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from pgbe.testing.api import ApiClient
from tests.auth_fixtures import PASSWORD, client, conn, login, make_user

__all__ = ["client", "conn"]

USERS_SQL = "SELECT id, email, role, is_active, hashed_password, version FROM users ORDER BY id"


async def _signed_in(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    body = (await login(client, email)).json()
    return {"headers": {"Authorization": f"Bearer {body['access_token']}"}, "refresh": body["refresh_token"]}


async def test_demoted_and_deactivated_admin_cannot_restore_itself_with_old_token(
    client: ApiClient, conn: asyncpg.Connection
) -> None:
    """The issue's attack: the old token PATCHes the row back to admin and active."""
    mallory = await make_user(conn, "mallory@example.com", role="admin")
    await make_user(conn, "root@example.com", role="admin")
    old = await _signed_in(client, "mallory@example.com")
    root = await _signed_in(client, "root@example.com")
    demoted = await client.patch(
        f"/users/{mallory}", json={"role": "user", "is_active": False}, headers=root["headers"]
    )
    assert demoted.status_code == 200, demoted.text
    before = [tuple(r) for r in await conn.fetch(USERS_SQL)]
    attempt = await client.patch(
        f"/users/{mallory}", json={"role": "admin", "is_active": True}, headers=old["headers"]
    )
    assert attempt.status_code == 401
    assert attempt.headers["www-authenticate"] == "Bearer"
    assert [tuple(r) for r in await conn.fetch(USERS_SQL)] == before
    assert (await login(client, "mallory@example.com")).status_code == 401  # inactive
    refreshed = await client.post("/auth/refresh", json={"refresh_token": old["refresh"]})
    assert refreshed.status_code == 401  # deactivation revoked the session


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users", None),
        ("GET", "/users/{me}", None),
        ("GET", "/categories", None),
        ("GET", "/categories/{category}", None),
        ("POST", "/categories", {"name": "Forged"}),
        ("PATCH", "/categories/{category}", {"name": "Forged"}),
        ("DELETE", "/categories/{category}", None),
        (
            "POST",
            "/users",
            {"email": "x@example.com", "first_name": "X", "last_name": "Y", "password": PASSWORD},
        ),
        ("DELETE", "/users/{me}", None),
    ],
)
@pytest.mark.parametrize("change", ["deactivated", "demoted", "logged-out", "password-changed"])
async def test_generated_endpoints_refuse_token_after_account_or_session_change(
    client: ApiClient, conn: asyncpg.Connection, method: str, path: str, body: Any, change: str
) -> None:
    me = await make_user(conn, "eve@example.com", role="admin")
    category = await conn.fetchval("INSERT INTO categories (name) VALUES ('Kept') RETURNING id")
    session = await _signed_in(client, "eve@example.com")
    url = path.format(me=me, category=category)
    if change == "deactivated":
        await conn.execute("UPDATE users SET is_active = false WHERE id = $1", me)
    elif change == "demoted":
        await conn.execute("UPDATE users SET role = 'staff' WHERE id = $1", me)
    elif change == "logged-out":
        assert (
            await client.post("/auth/logout", json={"refresh_token": session["refresh"]})
        ).status_code == 204
    else:
        changed = await client.post(
            "/auth/password",
            json={"current_password": PASSWORD, "new_password": "Brand-new-secret-9"},
            headers=session["headers"],
        )
        assert changed.status_code == 204
    before = {
        t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY id")]
        for t in ("users", "categories")
    }
    client.queries.reset()
    response = await client.request(method, url, json=body, headers=session["headers"])
    assert response.status_code == 401, response.text
    assert client.queries.count == 1  # the guard is part of the endpoint's one statement
    after = {
        t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY id")]
        for t in ("users", "categories")
    }
    assert after == before


async def test_generated_endpoints_with_live_session_stay_at_one_statement(
    client: ApiClient, conn: asyncpg.Connection
) -> None:
    await make_user(conn, "sue@example.com", role="staff")
    session = await _signed_in(client, "sue@example.com")
    client.queries.reset()
    created = await client.post("/categories", json={"name": "Puzzles"}, headers=session["headers"])
    assert created.status_code == 201
    path = f"/categories/{created.json()['id']}"
    assert (await client.get(path, headers=session["headers"])).status_code == 200
    assert (await client.get("/categories", headers=session["headers"])).status_code == 200
    assert (await client.patch(path, json={"name": "Riddles"}, headers=session["headers"])).status_code == 200
    assert (await client.delete(path, headers=session["headers"])).status_code == 204
    assert (await client.get(path, headers=session["headers"])).status_code == 404  # guard held, no row
    assert client.queries.count == 6


async def test_refresh_after_role_change_issues_token_with_current_role(
    client: ApiClient, conn: asyncpg.Connection
) -> None:
    me = await make_user(conn, "pat@example.com", role="staff")
    session = await _signed_in(client, "pat@example.com")
    await conn.execute("UPDATE users SET role = 'admin' WHERE id = $1", me)
    assert (await client.get("/categories", headers=session["headers"])).status_code == 401
    rotated = (await client.post("/auth/refresh", json={"refresh_token": session["refresh"]})).json()
    fresh = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await client.get("/users", headers=fresh)).status_code == 200  # admins list users


async def test_logout_ends_only_that_session(client: ApiClient, conn: asyncpg.Connection) -> None:
    await make_user(conn, "two@example.com")
    phone = await _signed_in(client, "two@example.com")
    laptop = await _signed_in(client, "two@example.com")
    assert (await client.post("/auth/logout", json={"refresh_token": phone["refresh"]})).status_code == 204
    assert (await client.get("/auth/me", headers=phone["headers"])).status_code == 401
    assert (await client.get("/auth/me", headers=laptop["headers"])).status_code == 200


async def test_sign_in_rehash_keeps_other_sessions(client: ApiClient, conn: asyncpg.Connection) -> None:
    """A rehash on sign-in (outdated parameters) is not a new password: other sessions stay."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192),)).hash(PASSWORD)
    me = await make_user(conn, "old@example.com", hashed=cheap)
    first = await _signed_in(client, "old@example.com")
    await conn.execute("UPDATE users SET hashed_password = $2 WHERE id = $1", me, cheap)  # outdated again
    await _signed_in(client, "old@example.com")
    assert await conn.fetchval("SELECT hashed_password FROM users WHERE id = $1", me) != cheap
    assert (await client.get("/auth/me", headers=first["headers"])).status_code == 200
