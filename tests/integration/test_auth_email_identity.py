"""One account per email up to case and compatibility forms, on every write path."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.orm import Session

from app.controllers.user import user_controller
from app.schemas.user import UserCreate, UserUpdate
from pgbe.errors import ConflictError
from pgbe.testing.api import ApiClient
from tests.auth_fixtures import PASSWORD, Bearer, client, conn, login, make_user

__all__ = ["client", "conn"]

VARIANTS = ["BOB@EXAMPLE.COM", "Bob@Example.com", "\uff42ob@example.com", "\uff22\uff2f\uff22@example.com"]
USERS_SQL = "SELECT id, email, version FROM users ORDER BY id"


async def _users(conn: asyncpg.Connection) -> list[tuple[object, ...]]:
    return [tuple(r) for r in await conn.fetch(USERS_SQL)]


def _new(email: str) -> dict[str, str]:
    return {"email": email, "first_name": "B", "last_name": "Ob", "password": PASSWORD}


@pytest.mark.parametrize("variant", VARIANTS)
async def test_register_email_variant_returns_409_and_changes_nothing(
    client: ApiClient, conn: asyncpg.Connection, variant: str
) -> None:
    await make_user(conn, "bob@example.com")
    before = await _users(conn)
    response = await client.post("/auth/register", json=_new(variant))
    assert response.status_code == 409
    assert response.json()["field"] == "email"
    assert await _users(conn) == before


@pytest.mark.parametrize("variant", VARIANTS)
async def test_admin_post_users_email_variant_returns_409_and_changes_nothing(
    client: ApiClient, conn: asyncpg.Connection, bearer: Bearer, variant: str
) -> None:
    await make_user(conn, "bob@example.com")
    admin = bearer(await make_user(conn, "root@example.com", role="admin"), "admin")
    await client.get("/health/live")  # stores the admin's session before the snapshot
    before = await _users(conn)
    response = await client.post("/users", json=_new(variant), headers=admin)
    assert response.status_code == 409
    assert await _users(conn) == before


@pytest.mark.parametrize("variant", VARIANTS)
async def test_admin_patch_users_email_to_variant_returns_409_and_changes_nothing(
    client: ApiClient, conn: asyncpg.Connection, bearer: Bearer, variant: str
) -> None:
    await make_user(conn, "bob@example.com")
    other = await make_user(conn, "old@example.com")
    admin = bearer(await make_user(conn, "root@example.com", role="admin"), "admin")
    await client.get("/health/live")
    before = await _users(conn)
    response = await client.patch(f"/users/{other}", json={"email": variant}, headers=admin)
    assert response.status_code == 409
    assert await _users(conn) == before


def test_controller_email_variant_raises_conflict(db: Session) -> None:
    user_controller.create(db, obj_in=UserCreate(**_new("bob@example.com")))
    with pytest.raises(ConflictError):
        user_controller.create(db, obj_in=UserCreate(**_new("\uff42ob@example.com")))
    grace = user_controller.create(db, obj_in=UserCreate(**_new("grace@example.com")))
    with pytest.raises(ConflictError):
        user_controller.update(db, db_obj=grace, obj_in=UserUpdate(email="BOB@example.com"))


async def test_unique_index_refuses_variant_written_by_sql(conn: asyncpg.Connection) -> None:
    await make_user(conn, "bob@example.com")
    with pytest.raises(asyncpg.UniqueViolationError):
        await make_user(conn, "\uff22ob@EXAMPLE.com")


async def test_sign_in_with_fullwidth_variant_reaches_the_same_account(
    client: ApiClient, conn: asyncpg.Connection
) -> None:
    await make_user(conn, "bob@example.com")
    assert (await login(client, "\uff42OB@example.com")).status_code == 200


async def test_user_patch_of_own_email_returns_422_and_changes_nothing(
    client: ApiClient, conn: asyncpg.Connection
) -> None:
    me = await make_user(conn, "me@example.com")
    token = (await login(client, "me@example.com")).json()["access_token"]
    before = await _users(conn)
    response = await client.patch(
        f"/users/{me}", json={"email": "other@example.com"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    assert await _users(conn) == before


async def test_change_own_email_needs_the_current_password(
    client: ApiClient, conn: asyncpg.Connection
) -> None:
    me = await make_user(conn, "me@example.com")
    await make_user(conn, "victim@example.com")
    headers = {"Authorization": f"Bearer {(await login(client, 'me@example.com')).json()['access_token']}"}
    before = await _users(conn)
    wrong = await client.post(
        "/auth/email", json={"current_password": "Not-it-123", "email": "new@example.com"}, headers=headers
    )
    assert wrong.status_code == 401
    taken = await client.post(
        "/auth/email", json={"current_password": PASSWORD, "email": "VICTIM@EXAMPLE.COM"}, headers=headers
    )
    assert taken.status_code == 409
    assert await _users(conn) == before
    moved = await client.post(
        "/auth/email", json={"current_password": PASSWORD, "email": "new@example.com"}, headers=headers
    )
    assert moved.status_code == 200
    assert await conn.fetchval("SELECT email FROM users WHERE id = $1", me) == "new@example.com"
    assert (await login(client, "new@example.com")).status_code == 200
