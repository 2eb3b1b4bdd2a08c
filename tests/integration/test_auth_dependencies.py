"""Protecting hand-written routes: CurrentPrincipal, CurrentUser, require_role, each checked in one query."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import pytest
from fastapi import FastAPI

from pgbe.auth.dependencies import (
    CurrentPrincipal,
    CurrentUser,
    OptionalPrincipal,
    install_auth,
    require_role,
)
from pgbe.auth.principal import Principal
from pgbe.auth.service import Auth
from pgbe.db.database import Database
from pgbe.http.problems import install_problem_handlers
from pgbe.project import Project
from pgbe.settings import PgbeSettings
from pgbe.testing.api import ApiClient, rolled_back_client
from pgbe.testing.principals import Bearer
from tests.auth_fixtures import make_user


@pytest.fixture
async def http(project: Project) -> AsyncIterator[ApiClient]:
    """An app of hand-written routes on the project's Auth, its database work rolled back."""
    auth: Auth = project.load("auth", "app.config.auth:auth")
    app = FastAPI()
    install_problem_handlers(app)
    install_auth(app, auth)

    @app.get("/whoami")
    async def whoami(principal: CurrentPrincipal) -> dict[str, object]:
        return {"user_id": principal.user_id, "role": principal.role}

    @app.get("/maybe")
    async def maybe(principal: OptionalPrincipal) -> dict[str, object]:
        return {"anonymous": principal is None}

    @app.get("/account")
    async def account(user: CurrentUser) -> dict[str, object]:
        return {"email": user.email}

    @app.get("/reports", dependencies=[require_role("admin", "staff")])
    async def reports() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/admin-only")
    async def admin_only(admin: Annotated[Principal, require_role("admin")]) -> dict[str, int]:
        return {"admin": admin.user_id}

    async with rolled_back_client(app, auth.database) as client:
        yield client


@pytest.fixture
def as_(project: Project, http: ApiClient) -> Bearer:
    auth: Auth = project.load("auth", "app.config.auth:auth")
    return Bearer(auth.codec, http, http.conn)


async def test_current_principal_valid_token_returns_caller_in_one_query(
    http: ApiClient, as_: Bearer
) -> None:
    headers = as_(42, "user")
    http.queries.reset()  # the fixture's account and session are stored outside the counter
    response = await http.get("/whoami", headers=headers)
    assert response.json() == {"user_id": 42, "role": "user"}
    assert http.queries.count == 1


async def test_current_user_loads_row_and_checks_session_in_one_query(http: ApiClient, as_: Bearer) -> None:
    headers = as_(43, "staff")
    http.queries.reset()
    assert (await http.get("/account", headers=headers)).json() == {"email": "user43@pgbe.test"}
    assert http.queries.count == 1


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE users SET is_active = false WHERE id = $1",
        "UPDATE users SET role = 'user' WHERE id = $1",
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1",
        "DELETE FROM users WHERE id = $1",
    ],
    ids=["deactivated", "demoted", "session-revoked", "deleted"],
)
async def test_hand_written_routes_refuse_token_once_account_or_session_changes(
    http: ApiClient, as_: Bearer, change: str
) -> None:
    user_id = await make_user(http.conn, "changing@example.com", role="admin")
    headers = as_(user_id, "admin")
    for path in ("/whoami", "/account", "/reports", "/admin-only", "/maybe"):
        assert (await http.get(path, headers=headers)).status_code == 200, path
    await http.conn.execute(change, user_id)
    for path in ("/whoami", "/account", "/reports", "/admin-only", "/maybe"):
        response = await http.get(path, headers=headers)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer garbage", "Basic dXNlcjpwdw=="])
async def test_current_principal_missing_or_bad_credentials_return_401(
    http: ApiClient, header: str | None
) -> None:
    response = await http.get("/whoami", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def test_optional_principal_anonymous_is_none_but_bad_token_is_401(
    http: ApiClient, as_: Bearer
) -> None:
    assert (await http.get("/maybe")).json() == {"anonymous": True}
    assert (await http.get("/maybe", headers=as_(5, "user"))).json() == {"anonymous": False}
    assert (await http.get("/maybe", headers={"Authorization": "Bearer x.y.z"})).status_code == 401


@pytest.mark.parametrize(("role", "status"), [("user", 403), ("staff", 200), ("admin", 200)])
async def test_require_role_in_route_dependencies(
    http: ApiClient, as_: Bearer, role: str, status: int
) -> None:
    user_id = {"user": 5, "staff": 6, "admin": 7}[role]
    assert (await http.get("/reports", headers=as_(user_id, role))).status_code == status


async def test_require_role_as_parameter_returns_principal(http: ApiClient, as_: Bearer) -> None:
    assert (await http.get("/admin-only")).status_code == 401
    assert (await http.get("/admin-only", headers=as_(8, "staff"))).status_code == 403
    assert (await http.get("/admin-only", headers=as_(9, "admin"))).json() == {"admin": 9}


async def test_token_signed_with_another_secret_returns_401(http: ApiClient) -> None:
    settings = PgbeSettings(environment="test", secret_key="z" * 40)
    other = Auth(settings, Database(settings, url="postgresql://x@h/d"))
    token = other.codec.issue_access(Principal(1, "admin", uuid.uuid4()))
    assert (await http.get("/whoami", headers={"Authorization": f"Bearer {token}"})).status_code == 401
