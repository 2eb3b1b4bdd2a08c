"""Protecting hand-written routes: current_principal, require_role, the Bearer header."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI

from pgbe.auth.dependencies import CurrentPrincipal, OptionalPrincipal, install_auth, require_role
from pgbe.auth.principal import Principal
from pgbe.auth.service import Auth
from pgbe.db.database import Database
from pgbe.http.problems import install_problem_handlers
from pgbe.settings import PgbeSettings

SETTINGS = PgbeSettings(environment="test", secret_key="k" * 40)


@pytest.fixture
def auth() -> Auth:
    return Auth(SETTINGS, Database(SETTINGS, url="postgresql://unused@127.0.0.1:1/none"))


@pytest.fixture
async def http(auth: Auth) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    install_auth(app, auth)

    @app.get("/whoami")
    async def whoami(principal: CurrentPrincipal) -> dict[str, object]:
        return {"user_id": principal.user_id, "role": principal.role}

    @app.get("/maybe")
    async def maybe(principal: OptionalPrincipal) -> dict[str, object]:
        return {"anonymous": principal is None}

    @app.get("/reports", dependencies=[require_role("admin", "staff")])
    async def reports() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/admin-only")
    async def admin_only(admin: Annotated[Principal, require_role("admin")]) -> dict[str, int]:
        return {"admin": admin.user_id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def _as(auth: Auth, role: str, user_id: int = 5) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.codec.issue_access(Principal(user_id, role))}"}


async def test_current_principal_valid_token_returns_caller(http: httpx.AsyncClient, auth: Auth) -> None:
    response = await http.get("/whoami", headers=_as(auth, "user", 42))
    assert response.json() == {"user_id": 42, "role": "user"}


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer garbage", "Basic dXNlcjpwdw=="])
async def test_current_principal_missing_or_bad_credentials_return_401(
    http: httpx.AsyncClient, header: str | None
) -> None:
    response = await http.get("/whoami", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def test_optional_principal_anonymous_is_none_but_bad_token_is_401(
    http: httpx.AsyncClient, auth: Auth
) -> None:
    assert (await http.get("/maybe")).json() == {"anonymous": True}
    assert (await http.get("/maybe", headers=_as(auth, "user"))).json() == {"anonymous": False}
    assert (await http.get("/maybe", headers={"Authorization": "Bearer x.y.z"})).status_code == 401


@pytest.mark.parametrize(("role", "status"), [("user", 403), ("staff", 200), ("admin", 200)])
async def test_require_role_in_route_dependencies(
    http: httpx.AsyncClient, auth: Auth, role: str, status: int
) -> None:
    assert (await http.get("/reports", headers=_as(auth, role))).status_code == status


async def test_require_role_as_parameter_returns_principal(http: httpx.AsyncClient, auth: Auth) -> None:
    assert (await http.get("/admin-only")).status_code == 401
    assert (await http.get("/admin-only", headers=_as(auth, "staff"))).status_code == 403
    assert (await http.get("/admin-only", headers=_as(auth, "admin", 9))).json() == {"admin": 9}


async def test_token_signed_with_another_secret_returns_401(http: httpx.AsyncClient) -> None:
    other = Auth(
        PgbeSettings(environment="test", secret_key="z" * 40), Database(SETTINGS, url="postgresql://x@h/d")
    )
    assert (await http.get("/whoami", headers=_as(other, "admin"))).status_code == 401
