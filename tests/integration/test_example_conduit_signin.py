"""Conduit's sign-in (`POST /api/users/login`) and the tokens in its account answers, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pgbe.auth.passwords import hash_password
from pgbe.auth.service import BAD_CREDENTIALS
from pgbe.testing.api import ApiClient
from tests.conduit_fixtures import World
from tests.integration.test_example_conduit_articles import errors

PASSWORD = "correct horse 9!"
HASH = hash_password(PASSWORD)  # once per run: argon2 is slow on purpose


def login_body(email: str = "jake@conduit.example.com", password: str = PASSWORD) -> dict[str, Any]:
    """RealWorld's sign-in body."""
    return {"user": {"email": email, "password": password}}


def token_header(token: str) -> dict[str, str]:
    """RealWorld's Authorization header."""
    return {"Authorization": f"Token {token}"}


@pytest.fixture
async def signable(conduit: ApiClient, world: World) -> AsyncIterator[World]:
    """The world, with jake's password known and a fresh per-client sign-in rate limit."""
    from conduit.database import auth

    await conduit.conn.execute("UPDATE users SET hashed_password = $1 WHERE username = 'jake'", HASH)
    auth.rate_limits.forget()
    conduit.queries.reset()
    yield world
    auth.rate_limits.forget()


async def test_login_answers_the_account_with_a_token_that_works_at_once(
    conduit: ApiClient, signable: World
) -> None:
    response = await conduit.post("/api/users/login", json=login_body("JAKE@conduit.example.com"))
    assert response.status_code == 200, response.text
    # pgbe.auth's credentials check (throttle reservation, the account, the throttle's release: 4), then
    # one statement opening the session and reading the account
    assert conduit.queries.count == 5, conduit.queries.statements
    assert response.headers["cache-control"] == "no-store"
    user = response.json()["user"]
    token = user.pop("token")
    assert user == {"email": "jake@conduit.example.com", "username": "jake", "bio": None, "image": None}
    me = await conduit.get("/api/user", headers=token_header(token))
    assert me.status_code == 200, me.text
    assert me.json()["user"]["username"] == "jake"
    sessions = await conduit.conn.fetchval(
        "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL", signable.ids["jake"]
    )
    assert sessions == 2  # the world's and this sign-in's


@pytest.mark.parametrize(
    "body", [login_body(password="wrong password 1"), login_body("nobody@conduit.example.com")]
)
async def test_login_wrong_password_or_unknown_email_is_the_same_401(
    conduit: ApiClient, signable: World, body: dict[str, Any]
) -> None:
    response = await conduit.post("/api/users/login", json=body)
    assert response.status_code == 401, response.text
    assert response.json() == {"errors": {"body": [BAD_CREDENTIALS]}}
    assert "token" not in response.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"user": {"email": "jake@conduit.example.com"}}, "user.password"),
        ({"user": {"password": PASSWORD}}, "user.email"),
        ({"email": "jake@conduit.example.com", "password": PASSWORD}, "user"),  # outside the envelope
        ({"user": {"email": "", "password": PASSWORD}}, "user.email"),
        ({"user": {"email": "jake@conduit.example.com", "password": PASSWORD, "role": "admin"}}, "role"),
    ],
)
async def test_login_missing_or_unknown_fields_are_422_before_any_attempt(
    conduit: ApiClient, signable: World, body: dict[str, Any], message: str
) -> None:
    response = await conduit.post("/api/users/login", json=body)
    assert response.status_code == 422, response.text
    assert any(message in m for m in errors(response)), errors(response)
    assert conduit.queries.count == 0
    assert await conduit.conn.fetchval("SELECT count(*) FROM login_throttles") == 0


async def test_login_throttled_after_login_max_failures(
    conduit: ApiClient, signable: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conduit.database import auth

    monkeypatch.setattr(auth.settings, "login_max_failures", 2)
    for _ in range(2):
        wrong = await conduit.post("/api/users/login", json=login_body(password="wrong password 1"))
        assert wrong.status_code == 401
    refused = await conduit.post("/api/users/login", json=login_body())  # even the right password
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= auth.settings.login_window_seconds
    assert errors(refused) == ["Too many failed sign-ins; try again later"]


async def test_login_refused_while_every_hash_slot_is_taken(
    conduit: ApiClient, signable: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conduit.database import auth

    monkeypatch.setattr(auth.hash_slots, "in_use", auth.hash_slots.size)
    response = await conduit.post("/api/users/login", json=login_body())
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert errors(response)
    assert await conduit.conn.fetchval("SELECT count(*) FROM login_throttles") == 0  # no attempt spent


async def test_login_of_an_inactive_account_is_refused(conduit: ApiClient, signable: World) -> None:
    await conduit.conn.execute("UPDATE users SET is_active = false WHERE username = 'jake'")
    response = await conduit.post("/api/users/login", json=login_body())
    assert response.status_code == 401, response.text
    assert response.json() == {"errors": {"body": [BAD_CREDENTIALS]}}


async def test_sign_up_token_works_at_once(conduit: ApiClient, world: World) -> None:
    body = {"user": {"username": "newcomer", "email": "new@conduit.example.com", "password": PASSWORD}}
    created = await conduit.post("/api/users", json=body)
    assert created.status_code == 201, created.text
    me = await conduit.get("/api/user", headers=token_header(created.json()["user"]["token"]))
    assert me.status_code == 200, me.text
    assert me.json()["user"]["username"] == "newcomer"
    signed_in = await conduit.post("/api/users/login", json=login_body("new@conduit.example.com"))
    assert signed_in.status_code == 200, signed_in.text


async def test_current_user_answers_carry_a_token_with_realworlds_scheme(
    conduit: ApiClient, world: World
) -> None:
    got = await conduit.get("/api/user", headers=world.as_("jake"))
    token = got.json()["user"]["token"]
    changed = await conduit.put("/api/user", json={"user": {"bio": "hi"}}, headers=token_header(token))
    assert changed.status_code == 200, changed.text
    assert conduit.queries.count == 2  # one statement each: the tokens are signed without SQL
    again = await conduit.get("/api/user", headers=token_header(changed.json()["user"]["token"]))
    assert again.json()["user"]["bio"] == "hi"
    assert got.headers["etag"]
    repeated = await conduit.get(
        "/api/user", headers={**world.as_("jake"), "If-None-Match": got.headers["etag"]}
    )
    assert repeated.status_code == 200  # a new token each time: never 304


async def test_new_password_answer_carries_a_token_of_a_new_session(conduit: ApiClient, world: World) -> None:
    jake = world.as_("jake")
    response = await conduit.put("/api/user", json={"user": {"password": "a new secret 42!"}}, headers=jake)
    assert response.status_code == 200, response.text
    assert conduit.queries.count == 2  # the change (which ends every session), then a new session
    assert (await conduit.get("/api/user", headers=jake)).status_code == 401  # the old sign-in ended
    fresh = token_header(response.json()["user"]["token"])
    assert (await conduit.get("/api/user", headers=fresh)).status_code == 200


async def test_anonymous_current_user_challenge_names_token_first(conduit: ApiClient, world: World) -> None:
    response = await conduit.get("/api/user")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Token, Bearer"
    wrong = await conduit.get("/api/user", headers={"Authorization": "Basic abc"})
    assert wrong.status_code == 401
    assert errors(wrong) == ["Expected an access token as: Token or Bearer <token>"]


def test_openapi_documents_login_and_the_token_fields(conduit_app: Any) -> None:
    schema = conduit_app.openapi()
    components = schema["components"]["schemas"]

    def resolved(ref: dict[str, Any]) -> dict[str, Any]:
        return components[ref["$ref"].rsplit("/", 1)[1]]

    login = schema["paths"]["/api/users/login"]["post"]
    assert login["operationId"] == "users.login"
    request = resolved(login["requestBody"]["content"]["application/json"]["schema"])
    credentials = resolved(request["properties"]["user"])
    assert set(credentials["properties"]) == {"email", "password"}
    assert set(credentials["required"]) == {"email", "password"}
    answer = resolved(login["responses"]["200"]["content"]["application/json"]["schema"])
    user = resolved(answer["properties"]["user"])
    assert set(user["properties"]) == {"email", "username", "bio", "image", "token"}
    assert user["properties"]["token"]["type"] == "string"
    assert "token" in user["required"]
    assert {"401", "422", "429", "503"} <= set(login["responses"])
    assert login["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    current = schema["paths"]["/api/user"]["get"]["responses"]["200"]["content"]["application/json"]
    assert "token" in resolved(resolved(current["schema"])["properties"]["user"])["properties"]
    created = schema["paths"]["/api/users"]["post"]["responses"]["201"]["content"]["application/json"]
    sign_up = resolved(resolved(created["schema"])["properties"]["user"])["properties"]["token"]
    assert {"type": "null"} in sign_up["anyOf"]  # null when a signed-in caller creates the account
    assert "token" not in components["ProfileRead"]["properties"]
    assert schema["components"]["securitySchemes"]["TokenAuth"]["description"] == "`Token <access token>`"


def test_routes_command_lists_login(conduit_app: Any) -> None:
    from pgbe.cli.routes import collect_routes

    rows = {(r.method, r.path): r.permission for r in collect_routes(conduit_app.routes)}
    assert rows[("POST", "/api/users/login")] == "public"
