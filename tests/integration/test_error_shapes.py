"""Error shape per prefix: every pgbe error under a declared prefix has the project's body, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel as Schema

from app.config.auth import auth
from app.config.database import database
from app.config.settings import get_settings
from app.models import BaseModel, Category, Tag
from app.schemas.category import CategoryCreate, CategoryRead, CategoryUpdate
from app.schemas.tag import TagCreate, TagRead, TagUpdate
from pgbe import create_app
from pgbe.auth.permissions import has_role, public
from pgbe.errors import ConflictError
from pgbe.http.problems import ErrorShape
from pgbe.resources import Permissions, Resource
from pgbe.testing.api import ApiClient, rolled_back_client

MAX_BODY = 256


class ErrorList(Schema):
    """Conduit's error body."""

    errors: dict[str, list[str]]


def conduit_errors(problem: dict[str, Any]) -> dict[str, Any]:
    messages = [f"{err['loc'][-1]}: {err['msg']}" for err in problem.get("errors") or []]
    return {"errors": {"body": messages or [problem["detail"]]}}


def _app() -> FastAPI:
    staff = has_role("staff", "admin")
    permissions = Permissions(read=public, create=staff, update=staff, delete=staff)
    router = APIRouter()

    @router.get("/api/conflict")
    async def api_conflict() -> None:
        """Raise a framework error under the prefix."""
        raise ConflictError("Taken")

    @router.get("/plain/conflict")
    async def plain_conflict() -> None:
        """Raise a framework error outside it."""
        raise ConflictError("Taken")

    return create_app(
        settings=get_settings().model_copy(update={"max_body_bytes": MAX_BODY}),
        database=database,
        models=BaseModel,
        auth=auth,
        routers=[router],
        resources=[
            Resource(
                Category,
                path="/api/categories",
                create=CategoryCreate,
                update=CategoryUpdate,
                read=CategoryRead,
                permissions=permissions,
            ),
            Resource(Tag, create=TagCreate, update=TagUpdate, read=TagRead, permissions=permissions),
        ],
        error_shapes={"/api": ErrorShape(conduit_errors, schema=ErrorList)},
    )


@pytest.fixture(scope="module")
def shaped_app() -> FastAPI:
    return _app()


@pytest.fixture
async def client(shaped_app: FastAPI) -> AsyncIterator[ApiClient]:
    async with rolled_back_client(shaped_app, database) as api:
        yield api


def _shaped(response: Any, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["errors"]
    messages: list[str] = body["errors"]["body"]
    assert messages
    return messages


async def test_error_shape_generated_item_missing_returns_404_in_shape(client: ApiClient) -> None:
    assert _shaped(await client.get("/api/categories/987654"), 404) == ["Category 987654 not found"]


async def test_error_shape_generated_create_anonymous_returns_401_in_shape(client: ApiClient) -> None:
    response = await client.post("/api/categories", json={"name": "Books"})

    _shaped(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_error_shape_generated_create_invalid_body_returns_one_message_per_field(
    client: ApiClient, bearer: Callable[[int, str], dict[str, str]]
) -> None:
    response = await client.post("/api/categories", json={"name": ""}, headers=bearer(1, "staff"))

    messages = _shaped(response, 422)
    assert len(messages) == 1
    assert messages[0].startswith("name: ")


async def test_error_shape_method_not_allowed_keeps_allow_header(client: ApiClient) -> None:
    response = await client.put("/api/categories", json={})

    _shaped(response, 405)
    assert "GET" in response.headers["allow"]


async def test_error_shape_body_over_limit_returns_413_in_shape(client: ApiClient) -> None:
    response = await client.post("/api/categories", content=b"x" * (MAX_BODY + 1))

    assert _shaped(response, 413) == [f"The request body is larger than {MAX_BODY} bytes"]


async def test_error_shape_hand_written_route_and_unknown_path_in_shape(client: ApiClient) -> None:
    assert _shaped(await client.get("/api/conflict"), 409) == ["Taken"]
    assert _shaped(await client.get("/api/nowhere"), 404) == ["Not Found"]


async def test_error_shape_outside_prefix_stays_problem_json(client: ApiClient) -> None:
    for response in (
        await client.get("/plain/conflict"),
        await client.get("/tags/987654"),
        await client.get("/apiculture"),
        await client.post("/tags", content=b"x" * (MAX_BODY + 1)),
    ):
        assert response.headers["content-type"] == "application/problem+json", response.url
        assert response.json()["status"] == response.status_code


def test_error_shape_openapi_documents_the_shape_under_the_prefix(shaped_app: FastAPI) -> None:
    paths = shaped_app.openapi()["paths"]

    shaped = paths["/api/categories/{id}"]["get"]["responses"]["404"]["content"]
    plain = paths["/tags/{id}"]["get"]["responses"]["404"]["content"]
    assert shaped == {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorList"}}}
    assert plain["application/problem+json"] == {"schema": {"$ref": "#/components/schemas/Problem"}}
    assert "ErrorList" in shaped_app.openapi()["components"]["schemas"]
