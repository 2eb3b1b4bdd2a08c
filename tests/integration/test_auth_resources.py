"""Roles and object-level access on the generated resources, with tokens from /auth/token."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from tests.auth_fixtures import Bearer, client, conn, login, make_user

__all__ = ["client", "conn"]

CATALOGUE = {
    "/categories": ({"name": "Board games"}, {"description": "changed"}),
    "/products": ({"name": "Chess set", "price": 2500}, {"price": 1}),
    "/tags": ({"name": "wooden"}, {"name": "renamed"}),
}
SNAPSHOT_SQL = {
    "users": "SELECT id, email, first_name, last_name, role, is_active, is_superuser, hashed_password,"
    " version FROM users ORDER BY id",
    "profiles": "SELECT id, user_id, bio, website, version FROM profiles ORDER BY id",
    "categories": "SELECT id, name, description, version FROM categories ORDER BY id",
    "products": "SELECT id, name, price, category_id, version FROM products ORDER BY id",
    "tags": "SELECT id, name, version FROM tags ORDER BY id",
    "refresh_tokens": "SELECT id, used_at, revoked_at FROM refresh_tokens ORDER BY id",
}


async def _snapshot(conn: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {name: [tuple(r) for r in await conn.fetch(sql)] for name, sql in SNAPSHOT_SQL.items()}


@pytest.fixture
async def world(client: httpx.AsyncClient, conn: asyncpg.Connection, bearer: Bearer) -> dict[str, Any]:
    """alice and bob (users with profiles), sam (staff), root (admin), one row per catalogue table.

    alice signs in through /auth/token, so her header carries a real token.
    """
    ids: dict[str, Any] = {}
    for name, role in (("alice", "user"), ("bob", "user"), ("sam", "staff"), ("root", "admin")):
        ids[name] = await make_user(conn, f"{name}@example.com", role=role)
    for name in ("alice", "bob"):
        ids[f"{name}_profile"] = await conn.fetchval(
            "INSERT INTO profiles (user_id, bio) VALUES ($1, $2) RETURNING id", ids[name], f"I am {name}"
        )
    ids["/categories"] = await conn.fetchval("INSERT INTO categories (name) VALUES ('Games') RETURNING id")
    ids["/products"] = await conn.fetchval(
        "INSERT INTO products (name, price, category_id) VALUES ('Go board', 900, $1) RETURNING id",
        ids["/categories"],
    )
    ids["/tags"] = await conn.fetchval("INSERT INTO tags (name) VALUES ('classic') RETURNING id")
    token = (await login(client, "alice@example.com")).json()["access_token"]
    ids["as"] = {
        "alice": {"Authorization": f"Bearer {token}"},
        "bob": bearer(ids["bob"]),
        "sam": bearer(ids["sam"], "staff"),
        "root": bearer(ids["root"], "admin"),
        "nobody": {},
    }
    await client.get("/health/live")  # stores the sessions of the bearer headers before any snapshot
    return ids


@pytest.mark.parametrize("path", list(CATALOGUE))
async def test_catalogue_reads_are_public(
    client: httpx.AsyncClient, world: dict[str, Any], path: str
) -> None:
    assert (await client.get(path)).status_code == 200
    assert (await client.get(f"{path}/{world[path]}")).status_code == 200


@pytest.mark.parametrize("path", list(CATALOGUE))
@pytest.mark.parametrize(("who", "status"), [("nobody", 401), ("alice", 403)])
async def test_catalogue_writes_by_anonymous_or_user_are_refused_and_change_nothing(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    world: dict[str, Any],
    path: str,
    who: str,
    status: int,
) -> None:
    create, update = CATALOGUE[path]
    headers = world["as"][who]
    before = await _snapshot(conn)
    assert (await client.post(path, json=create, headers=headers)).status_code == status
    assert (await client.patch(f"{path}/{world[path]}", json=update, headers=headers)).status_code == status
    assert (await client.delete(f"{path}/{world[path]}", headers=headers)).status_code == status
    assert await _snapshot(conn) == before


@pytest.mark.parametrize("path", list(CATALOGUE))
@pytest.mark.parametrize("who", ["sam", "root"])
async def test_catalogue_writes_by_staff_or_admin_succeed(
    client: httpx.AsyncClient, world: dict[str, Any], path: str, who: str
) -> None:
    create, update = CATALOGUE[path]
    headers = world["as"][who]
    created = await client.post(path, json=create, headers=headers)
    assert created.status_code == 201, created.text
    assert (await client.patch(f"{path}/{world[path]}", json=update, headers=headers)).status_code == 200
    assert (await client.delete(f"{path}/{created.json()['id']}", headers=headers)).status_code == 204


@pytest.mark.parametrize(
    ("path", "target", "update"),
    [
        ("/users", "bob", {"first_name": "Mallory"}),
        ("/profiles", "bob_profile", {"bio": "hacked"}),
    ],
)
@pytest.mark.parametrize("who", ["alice", "sam"])
async def test_other_users_object_answers_404_on_every_method_and_changes_nothing(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    world: dict[str, Any],
    path: str,
    target: str,
    update: dict[str, str],
    who: str,
) -> None:
    headers = world["as"][who]
    url = f"{path}/{world[target]}"
    before = await _snapshot(conn)
    missing = await client.get(f"{path}/2147483000", headers=headers)
    for response in (
        await client.get(url, headers=headers),
        await client.patch(url, json=update, headers=headers),
        await client.patch(url, json=update, headers={**headers, "If-Match": '"1"'}),
        await client.delete(url, headers=headers),
    ):
        assert response.status_code == 404
        assert response.json()["title"] == missing.json()["title"]
    assert await _snapshot(conn) == before


async def test_profile_list_shows_and_counts_only_own_rows(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    for who in ("alice", "sam"):
        body = (await client.get("/profiles?limit=500", headers=world["as"][who])).json()
        assert {p["user_id"] for p in body["items"]} <= {world[who]}
        assert body["total"] == len(body["items"])
    assert (await client.get(f"/profiles?user_id={world['bob']}", headers=world["as"]["alice"])).json()[
        "total"
    ] == 0
    admin = (await client.get("/profiles?limit=500", headers=world["as"]["root"])).json()
    assert {world["alice"], world["bob"]} <= {p["user_id"] for p in admin["items"]}


async def test_user_list_is_for_admins_only(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    assert (await client.get("/users", headers=world["as"]["nobody"])).status_code == 401
    assert (await client.get("/users", headers=world["as"]["alice"])).status_code == 403
    assert (await client.get("/users", headers=world["as"]["sam"])).status_code == 403
    assert (await client.get("/users", headers=world["as"]["root"])).status_code == 200


@pytest.mark.parametrize(
    "field",
    [
        {"role": "admin"},
        {"is_active": True},
        {"is_superuser": True},
        {"hashed_password": "$argon2id$forged"},
        {"password": "Brand-New-Pass-1"},
        {"id": 1},
        {"version": 99},
        {"created_at": "2020-01-01T00:00:00Z"},
    ],
)
async def test_user_patch_of_protected_field_on_own_row_returns_422_and_changes_nothing(
    client: httpx.AsyncClient, conn: asyncpg.Connection, world: dict[str, Any], field: dict[str, Any]
) -> None:
    before = await _snapshot(conn)
    url = f"/users/{world['alice']}"
    response = await client.patch(url, json={"first_name": "Alicia", **field}, headers=world["as"]["alice"])
    assert response.status_code == 422
    assert await _snapshot(conn) == before


@pytest.mark.parametrize("field", [{"user_id": 0}, {"id": 1}, {"version": 5}])
async def test_profile_protected_fields_return_422_and_change_nothing(
    client: httpx.AsyncClient, conn: asyncpg.Connection, world: dict[str, Any], field: dict[str, Any]
) -> None:
    value = {k: (world["bob"] if k == "user_id" else v) for k, v in field.items()}
    before = await _snapshot(conn)
    alice = world["as"]["alice"]
    own = f"/profiles/{world['alice_profile']}"
    assert (await client.patch(own, json={"bio": "x", **value}, headers=alice)).status_code == 422
    await conn.execute("DELETE FROM profiles WHERE id = $1", world["alice_profile"])
    assert (await client.post("/profiles", json={"bio": "x", **value}, headers=alice)).status_code == 422
    after = await _snapshot(conn)
    assert after["profiles"] == [p for p in before["profiles"] if p[0] != world["alice_profile"]]


async def test_users_and_profiles_refuse_anonymous_callers(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    for url in (f"/users/{world['alice']}", f"/profiles/{world['alice_profile']}", "/profiles"):
        response = await client.get(url)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


async def test_generated_endpoints_refuse_bad_tokens(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    token = world["as"]["alice"]["Authorization"].split()[1]
    head, payload, signature = token.split(".")
    for value in (f"Bearer {head}.{payload}.{signature[::-1]}", "Bearer nonsense", "Basic YWxpY2U6cHc="):
        response = await client.get("/categories", headers={"Authorization": value})
        assert response.status_code == 401, value
        assert response.headers["www-authenticate"] == "Bearer"


async def test_admin_changes_role_and_refresh_carries_it(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    tokens = (await login(client, "bob@example.com")).json()
    bob = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.post("/tags", json={"name": "by-bob"}, headers=bob)).status_code == 403
    promoted = await client.patch(
        f"/users/{world['bob']}", json={"role": "staff"}, headers=world["as"]["root"]
    )
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "staff"
    renewed = (await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    bob = {"Authorization": f"Bearer {renewed['access_token']}"}
    assert (await client.post("/tags", json={"name": "by-bob"}, headers=bob)).status_code == 201


async def test_admin_deactivates_user_who_can_no_longer_sign_in_or_refresh(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    refresh = (await login(client, "bob@example.com")).json()["refresh_token"]
    response = await client.patch(
        f"/users/{world['bob']}", json={"is_active": False}, headers=world["as"]["root"]
    )
    assert response.status_code == 200
    assert (await login(client, "bob@example.com")).status_code == 401
    assert (await client.post("/auth/refresh", json={"refresh_token": refresh})).status_code == 401
    assert (await client.get("/auth/me", headers=world["as"]["bob"])).status_code == 401


async def test_admin_create_user_enforces_password_policy(
    client: httpx.AsyncClient, conn: asyncpg.Connection, world: dict[str, Any]
) -> None:
    body = {"email": "new@example.com", "first_name": "New", "last_name": "User", "password": "alllowercase"}
    assert (await client.post("/users", json=body, headers=world["as"]["root"])).status_code == 422
    assert await conn.fetchval("SELECT count(*) FROM users WHERE email = 'new@example.com'") == 0


async def test_password_hash_never_appears_in_user_responses(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    root, alice = world["as"]["root"], world["as"]["alice"]
    body = {"email": "eve@example.com", "first_name": "Eve", "last_name": "E", "password": "Eve-Secret-123"}
    responses = [
        await client.get("/users?limit=500", headers=root),
        await client.get(f"/users/{world['alice']}", headers=alice),
        await client.patch(f"/users/{world['alice']}", json={"first_name": "Al"}, headers=alice),
        await client.post("/users", json=body, headers=root),
        await client.get("/auth/me", headers=alice),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.text
        assert "hashed_password" not in response.text
        assert "$argon2" not in response.text
        assert "Eve-Secret-123" not in response.text
    for query in (
        "hashed_password=x",
        "hashed_password__startswith=$",
        "sort=hashed_password",
        "sort=-hashed_password",
    ):
        assert (await client.get(f"/users?{query}", headers=root)).status_code == 422, query
