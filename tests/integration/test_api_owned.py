"""Users and profiles over HTTP: callers see and change only their own rows; admins see all."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.models import User
from app.schemas.user import UserRead
from pgbe.resources import Resource
from pgbe.testing.api import ApiClient

Bearer = Callable[[int, str], dict[str, str]]


@pytest.fixture
async def people(api: ApiClient) -> dict[str, int]:
    """alice and bob (role user, with profiles), carol (no profile) and an admin."""
    ids = {}
    for name, role in (("alice", "user"), ("bob", "user"), ("carol", "user"), ("root", "admin")):
        ids[name] = await api.conn.fetchval(
            "INSERT INTO users (email, first_name, last_name, full_name, hashed_password, role)"
            " VALUES ($1, $2, 'X', $3, 'not-a-hash', $4) RETURNING id",
            f"{name}@example.com",
            name.title(),
            f"{name.title()} X",
            role,
        )
    for name in ("alice", "bob"):
        ids[f"{name}_profile"] = await api.conn.fetchval(
            "INSERT INTO profiles (user_id, bio) VALUES ($1, $2) RETURNING id", ids[name], f"I am {name}"
        )
    return ids


@pytest.fixture
def as_user(bearer: Bearer, people: dict[str, int]) -> Callable[[str], dict[str, str]]:
    def headers(name: str) -> dict[str, str]:
        return bearer(people[name], "admin" if name == "root" else "user")

    return headers


async def _snapshot(api: ApiClient) -> list[tuple[object, ...]]:
    users = await api.conn.fetch("SELECT id, email, first_name, role, version FROM users ORDER BY id")
    profiles = await api.conn.fetch("SELECT id, user_id, bio, version FROM profiles ORDER BY id")
    return [tuple(r) for r in [*users, *profiles]]


async def test_get_own_user_hides_password_hash(api: ApiClient, people: dict[str, int], as_user) -> None:
    response = await api.get(f"/users/{people['alice']}", headers=as_user("alice"))
    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"
    assert "hashed_password" not in response.text
    assert "not-a-hash" not in response.text


@pytest.mark.parametrize(("path", "target"), [("/users", "bob"), ("/profiles", "bob_profile")])
async def test_other_users_row_answers_404_on_every_method(
    api: ApiClient, people: dict[str, int], as_user, path: str, target: str
) -> None:
    before = await _snapshot(api)
    url = f"{path}/{people[target]}"
    alice = as_user("alice")
    assert (await api.get(url, headers=alice)).status_code == 404
    assert (await api.patch(url, json={}, headers=alice)).status_code == 404
    assert (await api.patch(url, json={}, headers={**alice, "If-Match": '"1"'})).status_code == 404
    assert (await api.delete(url, headers=alice)).status_code == 404
    assert (await api.delete(url, headers={**alice, "If-Match": '"1"'})).status_code == 404
    assert await _snapshot(api) == before


async def test_list_users_as_user_returns_403(api: ApiClient, people: dict[str, int], as_user) -> None:
    assert (await api.get("/users", headers=as_user("alice"))).status_code == 403


async def test_list_users_as_admin_returns_all(api: ApiClient, people: dict[str, int], as_user) -> None:
    api.queries.reset()
    body = (await api.get("/users?sort=email", headers=as_user("root"))).json()
    assert [u["email"].split("@")[0] for u in body["items"]] == ["alice", "bob", "carol", "root"]
    assert body["total"] == 4
    assert api.queries.count == 1


async def test_list_profiles_shows_and_counts_only_own(
    api: ApiClient, people: dict[str, int], as_user
) -> None:
    api.queries.reset()
    body = (await api.get("/profiles", headers=as_user("alice"))).json()
    assert [p["user_id"] for p in body["items"]] == [people["alice"]]
    assert body["total"] == 1
    assert api.queries.count == 1
    assert (await api.get("/profiles", headers=as_user("root"))).json()["total"] == 2


async def test_list_profiles_anonymous_returns_401(api: ApiClient, people: dict[str, int]) -> None:
    assert (await api.get("/profiles")).status_code == 401


async def test_update_own_role_is_rejected_and_unchanged(
    api: ApiClient, people: dict[str, int], as_user
) -> None:
    url = f"/users/{people['alice']}"
    response = await api.patch(url, json={"role": "admin"}, headers=as_user("alice"))
    assert response.status_code == 422
    assert await api.conn.fetchval("SELECT role FROM users WHERE id = $1", people["alice"]) == "user"


async def test_admin_updates_role(api: ApiClient, people: dict[str, int], as_user) -> None:
    url = f"/users/{people['alice']}"
    response = await api.patch(url, json={"role": "staff"}, headers=as_user("root"))
    assert response.status_code == 200
    assert response.json()["role"] == "staff"


async def test_update_own_name_keeps_full_name_in_step(
    api: ApiClient, people: dict[str, int], as_user
) -> None:
    url = f"/users/{people['alice']}"
    response = await api.patch(url, json={"last_name": "Liddell"}, headers=as_user("alice"))
    assert response.status_code == 200
    assert response.json()["full_name"] == "Alice Liddell"


async def test_create_user_as_admin_hashes_password(api: ApiClient, people: dict[str, int], as_user) -> None:
    body = {"email": "dan@example.com", "first_name": "Dan", "last_name": "Y", "password": "correct horse 9"}
    response = await api.post("/users", json=body, headers=as_user("root"))
    assert response.status_code == 201, response.text
    assert response.json()["full_name"] == "Dan Y"
    stored = await api.conn.fetchval("SELECT hashed_password FROM users WHERE email = 'dan@example.com'")
    assert stored.startswith("$argon2")
    assert "correct horse" not in response.text


async def test_create_user_as_user_returns_403(api: ApiClient, people: dict[str, int], as_user) -> None:
    body = {"email": "dan@example.com", "first_name": "Dan", "last_name": "Y", "password": "correct horse 9"}
    assert (await api.post("/users", json=body, headers=as_user("alice"))).status_code == 403
    assert await api.conn.fetchval("SELECT count(*) FROM users WHERE email = 'dan@example.com'") == 0


async def test_create_profile_sets_owner_to_caller(api: ApiClient, people: dict[str, int], as_user) -> None:
    response = await api.post("/profiles", json={"bio": "hello"}, headers=as_user("carol"))
    assert response.status_code == 201
    assert response.json()["user_id"] == people["carol"]


async def test_create_profile_for_someone_else_is_rejected(
    api: ApiClient, people: dict[str, int], as_user
) -> None:
    before = await _snapshot(api)
    body = {"bio": "x", "user_id": people["carol"]}
    assert (await api.post("/profiles", json=body, headers=as_user("alice"))).status_code == 422
    assert await _snapshot(api) == before


async def test_create_second_profile_returns_409(api: ApiClient, people: dict[str, int], as_user) -> None:
    response = await api.post("/profiles", json={"bio": "again"}, headers=as_user("alice"))
    assert response.status_code == 409
    assert response.json()["field"] == "user_id"


@pytest.mark.parametrize(
    "query", ["hashed_password=x", "hashed_password__icontains=a", "sort=hashed_password"]
)
async def test_filter_or_sort_on_password_hash_returns_422(
    api: ApiClient, people: dict[str, int], as_user, query: str
) -> None:
    response = await api.get(f"/users?{query}", headers=as_user("root"))
    assert response.status_code == 422


@pytest.mark.parametrize(
    "options",
    [{"filters": {"hashed_password": ["eq"]}}, {"sort": ["hashed_password"]}, {"includes": ["profile"]}],
)
def test_declare_resource_with_unreadable_field_raises(options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not in UserRead"):
        Resource(User, read=UserRead, **options)  # type: ignore[arg-type]
