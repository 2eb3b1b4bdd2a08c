"""`SignIn` and `AccessToken` on a minimal accounts resource: no envelope, fields named by the project."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from app.config.auth import auth
from app.config.database import database
from app.config.settings import get_settings
from app.models import Category, User
from app.schemas.category import CategoryRead
from pgbe.http.problems import install_problem_handlers
from pgbe.resources import AccessToken, Caller, Resource, ResourceRegistry, SignIn, register
from pgbe.schemas import ReadSchema
from pgbe.testing.api import ApiClient, rolled_back_client
from tests.auth_fixtures import PASSWORD, make_user


class AccountRead(ReadSchema):
    """An account as this test's API shows it."""

    id: int
    email: str


ACCOUNTS = Resource(
    User,
    read=AccountRead,
    path="/account",
    lookup=Caller(),
    operations=["get"],
    name="account",
    token=AccessToken("access_token"),
    sign_in=SignIn("/sign-in", email="login", password="secret"),
)


def accounts_app() -> FastAPI:
    """An application serving only ACCOUNTS, signing tokens with the repository's auth."""
    app = FastAPI()
    install_problem_handlers(app)
    registry = ResourceRegistry(database, get_settings(), resolve_principal=auth.resolve_principal, auth=auth)
    register(app, ACCOUNTS, registry=registry)
    return app


@pytest.fixture
async def accounts() -> AsyncIterator[ApiClient]:
    auth.rate_limits.forget()
    async with rolled_back_client(accounts_app(), database) as client:
        yield client
    auth.rate_limits.forget()


async def test_sign_in_answers_the_bare_row_with_the_declared_token_field(accounts: ApiClient) -> None:
    user_id = await make_user(accounts.conn, "ada@example.com")
    response = await accounts.post("/account/sign-in", json={"login": "ada@example.com", "secret": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    token = body.pop("access_token")
    assert body == {"id": user_id, "email": "ada@example.com"}
    me = await accounts.get("/account", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user_id
    assert isinstance(me.json()["access_token"], str)


async def test_sign_in_wrong_secret_is_a_problem_401(accounts: ApiClient) -> None:
    await make_user(accounts.conn, "ada@example.com")
    response = await accounts.post("/account/sign-in", json={"login": "ada@example.com", "secret": "no"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    missing = await accounts.post("/account/sign-in", json={"email": "ada@example.com", "secret": PASSWORD})
    assert missing.status_code == 422


def test_sign_in_operation_id_and_schemas() -> None:
    schema = accounts_app().openapi()
    operation = schema["paths"]["/account/sign-in"]["post"]
    assert operation["operationId"] == "account.sign_in"
    components = schema["components"]["schemas"]
    sent = components[
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    ]
    assert set(sent["properties"]) == {"login", "secret"}
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert set(components[ok]["properties"]) == {"id", "email", "access_token"}


def test_declaration_errors_are_raised_at_import() -> None:
    with pytest.raises(ValueError, match="only the accounts"):
        Resource(Category, read=CategoryRead, token=AccessToken())
    with pytest.raises(ValueError, match="token=AccessToken"):
        Resource(User, read=AccountRead, sign_in=SignIn())
    with pytest.raises(ValueError, match="has a field of that name"):
        Resource(User, read=AccountRead, token=AccessToken("email"))
    with pytest.raises(ValueError, match="segments"):
        SignIn("login")


def test_register_without_auth_refuses_token_resources() -> None:
    with pytest.raises(ValueError, match="auth"):
        register(FastAPI(), ACCOUNTS, registry=ResourceRegistry(database, get_settings()))
