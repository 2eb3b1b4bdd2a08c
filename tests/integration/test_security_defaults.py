"""Production defaults over HTTP: fail-closed environment, docs, no-store, nosniff, trusted hosts, schemes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import jwt
import pytest
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from app.api import auth as auth_api
from app.api import router as api_router
from app.config.database import database
from app.config.settings import Settings
from app.models import BaseModel
from app.resources import RESOURCES
from pgbe import create_app
from pgbe.auth.passwords import PasswordPolicy
from pgbe.auth.service import Auth
from pgbe.settings import DEFAULT_SECRET_KEY
from pgbe.testing.api import ApiClient, rolled_back_client
from pgbe.testing.principals import Bearer
from tests.auth_fixtures import PASSWORD, client, conn, login, make_user

__all__ = ["client", "conn"]

ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def app_client(**settings: Any) -> AsyncIterator[tuple[ApiClient, Auth]]:
    """The example application built with these settings, its database work rolled back."""
    chosen = Settings(**settings)
    auth = Auth(chosen, database)
    application = create_app(
        settings=chosen,
        database=database,
        models=BaseModel,
        auth=auth,
        routers=[auth_api.router, api_router],
        resources=RESOURCES,
    )
    async with rolled_back_client(application, database) as api:
        yield api, auth


def _without_environment(tmp_path: Path) -> dict[str, str]:
    outer = ("ENVIRONMENT", "SECRET_KEY", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")  # not the outer make's
    env = {k: v for k, v in os.environ.items() if k not in outer}
    return {**env, "PYTHONPATH": str(ROOT)}


def test_unset_environment_refuses_the_default_secret(tmp_path: Path) -> None:
    """ENVIRONMENT unset is production: the published key cannot sign anything."""
    probe = "from app.config.settings import get_settings; print(get_settings().environment)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=_without_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0, result.stdout
    assert "SECRET_KEY must be set" in result.stderr
    assert "ENVIRONMENT unset is production" in result.stderr
    chosen = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**_without_environment(tmp_path), "ENVIRONMENT": "development"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert chosen.stdout.strip() == "development", chosen.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(
    ("dotenv", "shell", "expected"),
    [(None, None, "development"), ("ENVIRONMENT=production\n", None, ""), (None, "staging", "staging")],
)
def test_make_chooses_development_only_when_nothing_else_does(
    tmp_path: Path, dotenv: str | None, shell: str | None, expected: str
) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    env = _without_environment(tmp_path) | ({"ENVIRONMENT": shell} if shell else {})
    result = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "--eval",
            'print-environment: ; @echo "[$$ENVIRONMENT]"',
            "print-environment",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == f"[{expected}]"


async def test_token_signed_with_the_default_key_is_refused(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    forged = jwt.encode(
        {
            "sub": "1",
            "role": "admin",
            "typ": "access",
            "sid": "00000000-0000-0000-0000-000000000000",
            "exp": 4_000_000_000,
            "iat": 1,
            "jti": "x",
        },
        DEFAULT_SECRET_KEY,
        algorithm="HS256",
    )
    before = await conn.fetchval("SELECT count(*) FROM users")
    response = await client.get("/users", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    deleted = await client.delete("/users/1", headers={"Authorization": f"Bearer {forged}"})
    assert deleted.status_code == 401
    assert await conn.fetchval("SELECT count(*) FROM users") == before


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_docs_are_off_in_production_unless_asked_for(path: str) -> None:
    async with app_client(environment="production", allowed_hosts=["test"]) as (api, _):
        assert (await api.get(path)).status_code == 404
    async with app_client(environment="production", allowed_hosts=["test"], api_docs=True) as (api, _):
        assert (await api.get(path)).status_code == 200
    async with app_client(environment="test") as (api, _):
        assert (await api.get(path)).status_code == 200


async def test_token_response_is_not_stored_and_nosniff_everywhere(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    await make_user(conn, "cache@example.com")
    signed_in = await login(client, "cache@example.com")
    assert signed_in.status_code == 200
    assert signed_in.headers["cache-control"] == "no-store"
    assert signed_in.headers["x-content-type-options"] == "nosniff"
    refreshed = await client.post("/auth/refresh", json={"refresh_token": signed_in.json()["refresh_token"]})
    assert refreshed.status_code == 200
    assert refreshed.headers["cache-control"] == "no-store"
    failed = await login(client, "cache@example.com", "Wrong-password-1")
    assert failed.headers["cache-control"] == "no-store"
    assert failed.headers["x-content-type-options"] == "nosniff"


async def test_authenticated_answers_are_not_stored_generated_routes_too(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    public = await client.get("/products")
    assert public.status_code == 200
    assert "cache-control" not in public.headers  # a public page may be cached
    assert public.headers["x-content-type-options"] == "nosniff"
    headers = bearer(1, "admin")
    for path in ("/products", "/users", "/auth/me", "/products/999999"):
        response = await client.get(path, headers=headers)
        assert response.status_code in (200, 404), (path, response.text)
        assert response.headers["cache-control"] == "no-store", path
        assert response.headers["x-content-type-options"] == "nosniff", path


async def test_host_outside_allowed_hosts_is_refused_generated_routes_too() -> None:
    async with app_client(environment="production", allowed_hosts=["api.example.com"]) as (api, _):
        before = await api.conn.fetchval("SELECT count(*) FROM categories")
        for method, path in (("GET", "/products"), ("POST", "/categories"), ("GET", "/auth/me")):
            response = await api.request(method, path, headers={"Host": "evil.example"}, json={"name": "X"})
            assert response.status_code == 400, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert "evil.example" not in response.text
        assert await api.conn.fetchval("SELECT count(*) FROM categories") == before
        allowed = await api.get("/products", headers={"Host": "api.example.com"})
        assert allowed.status_code == 200
        probe = await api.get("/health/live", headers={"Host": "10.1.2.3:8000"})
        assert probe.status_code == 200  # orchestrators' probes address a pod by its IP


async def test_production_without_allowed_hosts_answers_loopback_names_only() -> None:
    async with app_client(environment="production") as (api, _):
        assert (await api.get("/products", headers={"Host": "127.0.0.1:8000"})).status_code == 200
        assert (await api.get("/products", headers={"Host": "[::1]:8000"})).status_code == 200
        assert (await api.get("/products", headers={"Host": "evil.example"})).status_code == 400


async def test_token_scheme_accepted_when_configured_and_named_in_challenge_and_openapi() -> None:
    async with app_client(auth_schemes=["Token"], api_docs=True) as (api, auth):
        token = Bearer(auth.codec, api, api.conn)(1, "user")["Authorization"].removeprefix("Bearer ")
        me = await api.get("/auth/me", headers={"Authorization": f"Token {token}"})
        assert me.status_code == 200, me.text
        refused = await api.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Token"
        anonymous = await api.get("/auth/me")
        assert anonymous.headers["www-authenticate"] == "Token"
        generated = await api.get("/users", headers={"Authorization": f"Token {token}"})
        assert generated.status_code in (200, 403), generated.text
        schema = (await api.get("/openapi.json")).json()
        assert schema["components"]["securitySchemes"] == {
            "TokenAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <access token>`",
            }
        }
        assert schema["paths"]["/auth/me"]["get"]["security"] == [{"TokenAuth": []}]


async def test_bearer_only_by_default_both_when_configured() -> None:
    async with app_client() as (api, auth):
        token = Bearer(auth.codec, api, api.conn)(1, "user")["Authorization"].removeprefix("Bearer ")
        refused = await api.get("/auth/me", headers={"Authorization": f"Token {token}"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
    async with app_client(auth_schemes=["Bearer", "Token"]) as (api, auth):
        header = Bearer(auth.codec, api, api.conn)(1, "user")
        token = header["Authorization"].removeprefix("Bearer ")
        assert (await api.get("/auth/me", headers=header)).status_code == 200
        assert (await api.get("/auth/me", headers={"Authorization": f"token {token}"})).status_code == 200
        assert (await api.get("/auth/me")).headers["www-authenticate"] == "Bearer, Token"
        schema = (await api.get("/openapi.json")).json()
        assert schema["paths"]["/auth/me"]["get"]["security"] == [
            {"OAuth2PasswordBearer": []},
            {"TokenAuth": []},
        ]


async def test_password_policy_of_the_settings_applies_to_password_changes(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    bearer: Callable[..., dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.config.auth import auth

    monkeypatch.setattr(
        auth,
        "password_policy",
        PasswordPolicy.from_settings(Settings(password_min_length=16, password_min_classes=3)),
    )
    user_id = await make_user(conn, "policy@example.com")
    header = bearer(user_id, "user")
    before = await conn.fetchval("SELECT hashed_password FROM users WHERE id = $1", user_id)
    for new, why in (("longbutlowercase1", "three kinds"), ("Short-Pass-1", "at least 16 characters")):
        response = await client.post(
            "/auth/password", json={"current_password": PASSWORD, "new_password": new}, headers=header
        )
        assert response.status_code == 422, response.text
        assert why in response.text
    assert await conn.fetchval("SELECT hashed_password FROM users WHERE id = $1", user_id) == before


def test_password_policy_settings_shape_the_openapi_field() -> None:
    policy = PasswordPolicy.from_settings(Settings(password_min_length=12, password_max_length=64))
    field = TypeAdapter(Annotated[str, policy.field()]).json_schema()
    assert (field["minLength"], field["maxLength"]) == (12, 64)
    assert (
        field["description"]
        == "12 to 64 characters; mixes at least two of lower case, upper case, digits, others"
    )
    with pytest.raises(PydanticValidationError):
        TypeAdapter(Annotated[str, policy.field()]).validate_python("Nul\x00-in-the-password")


async def test_example_openapi_states_the_password_policy(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    password = schema["components"]["schemas"]["UserCreate"]["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (10, 128)
    assert "two of lower case" in password["description"]
