"""Generated routes are routes like any other: app and router dependencies, prefixes, include_router."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute

from app.config.database import database
from app.config.settings import get_settings
from app.models import Category
from app.schemas.category import CategoryCreate, CategoryRead
from pgbe.errors import TooManyRequestsError
from pgbe.http.problems import install_problem_handlers
from pgbe.resources import Permissions, Resource, ResourceRegistry, install, register
from pgbe.resources.fast_lane import ResourceFastLane
from pgbe.testing.api import ApiClient, rolled_back_client

CALLS: list[str] = []


def guard(request: Request) -> None:
    """Refuse every request that says so, as a rate limiter would."""
    CALLS.append(request.url.path)
    if request.headers.get("x-refuse"):
        raise TooManyRequestsError("slow down", headers={"Retry-After": "1"})


async def hand_written() -> dict[str, str]:
    return {"hello": "world"}


def _shelves() -> Resource:
    return Resource(
        Category,
        read=CategoryRead,
        create=CategoryCreate,
        path="/shelves",
        sort=["id", "name"],
        permissions=Permissions(create=lambda principal: None),
    )


def _registry() -> ResourceRegistry:
    return ResourceRegistry(database, get_settings())


@pytest.fixture
async def guarded_app() -> AsyncIterator[ApiClient]:
    """`FastAPI(dependencies=[Depends(guard)])` with a hand-written and a generated route."""
    app = FastAPI(dependencies=[Depends(guard)])
    install_problem_handlers(app)
    app.add_api_route("/hello", hand_written)
    register(app, _shelves(), registry=_registry())
    CALLS.clear()
    async with rolled_back_client(app, database) as client:
        yield client


@pytest.fixture
async def grouped_app() -> AsyncIterator[ApiClient]:
    """Resources on a router with its own dependency, included under /api/v1 with another one."""
    app = FastAPI()
    install_problem_handlers(app)
    router = APIRouter(dependencies=[Depends(guard)])
    registry = register(router, _shelves(), registry=_registry())
    app.include_router(router, prefix="/api/v1", dependencies=[Depends(guard)])
    install(app, registry)
    CALLS.clear()
    async with rolled_back_client(app, database) as client:
        yield client


async def test_app_dependency_refuses_generated_route_like_hand_written_one(guarded_app: ApiClient) -> None:
    refuse = {"x-refuse": "1"}
    assert (await guarded_app.get("/hello", headers=refuse)).status_code == 429
    refused = await guarded_app.get("/shelves", headers=refuse)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["detail"] == "slow down"
    created = await guarded_app.post("/shelves", json={"name": "Blocked"}, headers=refuse)
    assert created.status_code == 429
    assert await guarded_app.conn.fetchval("SELECT count(*) FROM categories WHERE name = 'Blocked'") == 0


async def test_app_dependency_runs_before_every_generated_request(guarded_app: ApiClient) -> None:
    guarded_app.queries.reset()
    response = await guarded_app.get("/shelves")
    assert response.status_code == 200
    assert CALLS == ["/shelves"]
    assert guarded_app.queries.count == 1
    assert (await guarded_app.head("/shelves")).status_code == 200


async def test_included_router_prefix_and_dependencies_apply_to_generated_routes(
    grouped_app: ApiClient,
) -> None:
    created = await grouped_app.post("/api/v1/shelves", json={"name": "Grouped"})
    assert created.status_code == 201, created.text
    one = await grouped_app.get(f"/api/v1/shelves/{created.json()['id']}")
    assert one.json()["name"] == "Grouped"
    expected = ["/api/v1/shelves", f"/api/v1/shelves/{created.json()['id']}"]
    assert expected == CALLS  # once each: the two declarations of the guard share one result
    assert (await grouped_app.get("/shelves")).status_code == 404  # only under the prefix
    assert (await grouped_app.get("/api/v1/shelves", headers={"x-refuse": "1"})).status_code == 429


async def test_included_generated_route_without_dependencies_is_served_by_the_fast_lane() -> None:
    app = FastAPI()
    router = APIRouter()
    registry = register(router, _shelves(), registry=_registry())
    app.include_router(router, prefix="/api/v1")
    install(app, registry)
    lane = ResourceFastLane(app.router, fastapi=app)
    found = lane.table.lookup("GET", "/api/v1/shelves/7")
    assert found is not None
    assert found[1] == {"id": "7"}
    guarded = FastAPI(dependencies=[Depends(guard)])
    register(guarded, _shelves(), registry=_registry())
    assert ResourceFastLane(guarded.router, fastapi=guarded).table.lookup("GET", "/shelves") is None


def test_generated_routes_carry_the_app_dependencies_in_openapi_terms() -> None:
    app = FastAPI(dependencies=[Depends(guard)])
    register(app, _shelves(), registry=_registry())
    generated = [r for r in app.routes if isinstance(r, APIRoute)]
    assert generated
    assert all(any(d.dependency is guard for d in r.dependencies) for r in generated)
