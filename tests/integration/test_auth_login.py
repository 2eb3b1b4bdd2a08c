"""Sign-in over HTTP: tokens, identical failures, hasher always runs, rehash, bad tokens."""

from __future__ import annotations

import time

import asyncpg
import httpx
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from pgbe.auth import passwords
from pgbe.testing.principals import open_session
from tests.auth_fixtures import PASSWORD, Bearer, client, conn, login, make_user

__all__ = ["client", "conn"]


async def test_login_valid_credentials_returns_access_and_refresh_tokens(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    user_id = await make_user(conn, "ann@example.com", role="staff")
    response = await login(client, "ann@example.com")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["refresh_token"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == str(user_id)
    assert claims["role"] == "staff"
    assert claims["typ"] == "access"
    assert {"exp", "iat", "jti"} <= claims.keys()
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "ann@example.com"
    assert "hashed_password" not in me.text
    assert "argon2" not in me.text


async def test_login_email_is_case_insensitive(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    await make_user(conn, "bob@example.com")
    assert (await login(client, "BOB@Example.com")).status_code == 200


async def test_login_unknown_user_and_wrong_password_answer_alike_and_both_hash(
    client: httpx.AsyncClient, conn: asyncpg.Connection, monkeypatch
) -> None:
    await make_user(conn, "carol@example.com")
    calls: list[str] = []
    real = passwords._hasher

    class Counting:
        def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
            calls.append(hashed)
            return real.verify_and_update(password, hashed)

        def hash(self, password: str) -> str:
            return real.hash(password)

    monkeypatch.setattr(passwords, "_hasher", Counting())
    wrong = await login(client, "carol@example.com", "Wrong-password-1")
    unknown = await login(client, "nobody@example.com", "Wrong-password-1")
    assert len(calls) == 2
    assert wrong.status_code == unknown.status_code == 401
    # the same problem document, but for the id of each request
    assert {**wrong.json(), "request_id": None} == {**unknown.json(), "request_id": None}
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"


async def test_login_inactive_user_returns_401(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    await make_user(conn, "dan@example.com", active=False)
    assert (await login(client, "dan@example.com")).status_code == 401


async def test_login_outdated_hash_parameters_rehashes(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    weak = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),)).hash(PASSWORD)
    user_id = await make_user(conn, "erin@example.com", hashed=weak)
    version = await conn.fetchval("SELECT version FROM users WHERE id = $1", user_id)
    assert passwords.verify_password(PASSWORD, weak)[1] is not None  # outdated to begin with
    assert (await login(client, "erin@example.com")).status_code == 200
    stored = await conn.fetchval("SELECT hashed_password FROM users WHERE id = $1", user_id)
    assert stored != weak
    assert passwords.verify_password(PASSWORD, stored) == (True, None)
    assert await conn.fetchval("SELECT version FROM users WHERE id = $1", user_id) == version
    assert (await login(client, "erin@example.com")).status_code == 200


async def test_me_without_token_returns_401_with_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def test_me_bad_tokens_return_401(
    client: httpx.AsyncClient, conn: asyncpg.Connection, bearer: Bearer
) -> None:
    from app.config.auth import auth
    from pgbe.auth.principal import Principal

    user_id = await make_user(conn, "fay@example.com", role="admin")
    session = await open_session(conn, user_id)  # each token below is refused for its own flaw only
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "role": "admin",
        "typ": "access",
        "sid": session.hex,
        "iat": now,
        "exp": now + 600,
        "jti": "x",
    }
    secret = auth.settings.secret_key.get_secret_value()
    unsigned = jwt.encode(claims, None, algorithm="none")
    wrong_key = jwt.encode(claims, "another-secret-of-sufficient-length!", algorithm="HS256")
    refresh_typed = jwt.encode(claims | {"typ": "refresh"}, secret, algorithm="HS256")
    expired = auth.codec.issue_access(Principal(user_id, "admin", session), now=now - 3600)
    for token in (unsigned, wrong_key, refresh_typed, expired, "not-a-jwt"):
        response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/auth/me", headers=bearer(user_id, "admin"))).status_code == 200
    fine = jwt.encode(claims, secret, algorithm="HS256")
    assert (await client.get("/auth/me", headers={"Authorization": f"Bearer {fine}"})).status_code == 200


async def test_me_deactivated_user_returns_401(
    client: httpx.AsyncClient, conn: asyncpg.Connection, bearer: Bearer
) -> None:
    user_id = await make_user(conn, "gus@example.com", active=False)
    assert (await client.get("/auth/me", headers=bearer(user_id))).status_code == 401


async def test_openapi_declares_password_flow_at_auth_token(client: httpx.AsyncClient) -> None:
    schemes = (await client.get("/openapi.json")).json()["components"]["securitySchemes"]
    flows = [s["flows"]["password"]["tokenUrl"] for s in schemes.values() if s["type"] == "oauth2"]
    assert flows == ["/auth/token"]
