"""The caller's own row as a resource (`lookup=Caller()`: `GET /me`), and per-resource page sizes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from fastapi import FastAPI

from app.config.auth import auth
from app.config.database import database
from app.config.settings import get_settings
from app.models import Category, Tag, User
from app.schemas.category import CategoryRead
from app.schemas.tag import TagRead
from app.schemas.user import UserRead, UserSelfUpdate
from pgbe.auth.permissions import authenticated
from pgbe.http.problems import install_problem_handlers
from pgbe.resources import Caller, Permissions, Resource, ResourceRegistry, register
from pgbe.resources.fast_lane import ResourceFastLane
from pgbe.resources.resource import MAX_PAGE_LIMIT
from pgbe.testing.api import ApiClient, rolled_back_client
from pgbe.testing.principals import Bearer as SessionBearer

Bearer = Callable[[int, str], dict[str, str]]
ME = Permissions(read=authenticated, update=authenticated)


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    registry = ResourceRegistry(database, get_settings(), resolve_principal=auth.resolve_principal)
    me = Resource(User, read=UserRead, update=UserSelfUpdate, path="/me", lookup=Caller(), permissions=ME)
    shelves = Resource(Category, read=CategoryRead, path="/shelves", default_limit=3, max_limit=5)
    big = Resource(Tag, read=TagRead, path="/everything", default_limit=800)
    register(app, me, shelves, big, registry=registry)
    return app


@pytest.fixture
async def client() -> AsyncIterator[ApiClient]:
    async with rolled_back_client(_app(), database) as api:
        yield api


@pytest.fixture
def bearer(client: ApiClient) -> Bearer:
    return SessionBearer(auth.codec, client, client.conn)


async def test_caller_item_answers_the_callers_row_in_one_statement(
    client: ApiClient, bearer: Bearer
) -> None:
    ann, ben = bearer(901, "user"), bearer(902, "user")
    await client.get("/me", headers=ann)  # stores both accounts and sessions
    client.queries.reset()
    mine = await client.get("/me", headers=ann)
    assert mine.status_code == 200, mine.text
    assert (mine.json()["id"], mine.json()["email"]) == (901, "user901@pgbe.test")
    assert mine.headers["etag"] == f'"{mine.json()["version"]}"'
    assert client.queries.count == 1
    assert (await client.get("/me", headers=ben)).json()["id"] == 902


async def test_caller_item_anonymous_is_401_even_when_anyone_may_read(client: ApiClient) -> None:
    app = FastAPI()
    registry = ResourceRegistry(database, get_settings(), resolve_principal=auth.resolve_principal)
    register(app, Resource(User, read=UserRead, path="/me", lookup=Caller()), registry=registry)
    install_problem_handlers(app)
    async with rolled_back_client(app, database) as anonymous:
        response = await anonymous.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/me")).status_code == 401


async def test_caller_item_update_changes_only_the_callers_row(client: ApiClient, bearer: Bearer) -> None:
    ann, ben = bearer(901, "user"), bearer(902, "user")
    await client.get("/me", headers=ben)
    changed = await client.patch("/me", json={"first_name": "Annie"}, headers=ann)
    assert changed.status_code == 200, changed.text
    assert changed.json()["first_name"] == "Annie"
    assert changed.json()["full_name"].startswith("Annie")  # the model's write rules ran
    names = dict(await client.conn.fetch("SELECT id, first_name FROM users WHERE id IN (901, 902)"))
    assert names == {901: "Annie", 902: "Test"}


async def test_caller_item_has_no_key_no_list_and_answers_405_with_allow(
    client: ApiClient, bearer: Bearer
) -> None:
    ann = bearer(901, "user")
    refused = await client.post("/me", json={}, headers=ann)
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD, PATCH"
    assert (await client.delete("/me", headers=ann)).status_code == 405
    assert (await client.get("/me/901", headers=ann)).status_code == 404


def test_caller_item_openapi_has_no_path_parameter_and_the_fast_lane_claims_it() -> None:
    app = _app()
    paths = app.openapi()["paths"]
    assert sorted(paths["/me"]) == ["get", "patch"]
    assert not [p for p in paths["/me"]["get"].get("parameters", []) if p["in"] == "path"]
    assert paths["/me"]["get"]["summary"] or paths["/me"]["get"]["description"]
    assert not [path for path in paths if path.startswith("/me/")]
    lane = ResourceFastLane(app.router, fastapi=app)
    assert lane.table.lookup("GET", "/me") is not None
    assert lane.table.lookup("PATCH", "/me") is not None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"operations": ["list", "get"]}, "has no list"),
        ({"lookup": Caller("first_name")}, "not unique"),
        ({"lookup": Caller("nothing")}, "not a column"),
    ],
)
def test_caller_item_declaration_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Resource(User, read=UserRead, **{"lookup": Caller(), **options})  # type: ignore[arg-type]


def test_caller_item_cannot_be_nested() -> None:
    me = Resource(User, read=UserRead, path="/me", lookup=Caller())
    with pytest.raises(ValueError, match="cannot be nested"):
        Resource(Category, read=CategoryRead, parent=me, parent_field="x")


async def test_resource_page_size_default_and_maximum(client: ApiClient) -> None:
    for i in range(7):
        await client.conn.execute("INSERT INTO categories (name) VALUES ($1)", f"Page size {i}")
    page = await client.get("/shelves")
    assert page.status_code == 200
    assert (len(page.json()["items"]), page.json()["limit"]) == (3, 3)
    assert len((await client.get("/shelves", params={"limit": 5})).json()["items"]) == 5
    too_many = await client.get("/shelves", params={"limit": 6})
    assert too_many.status_code == 422
    # a default above the settings' maximum (500) raises this resource's maximum to it
    assert get_settings().page_max_limit < 800
    whole = await client.get("/everything", params={"limit": 800})
    assert whole.status_code == 200
    assert whole.json()["limit"] == 800
    assert (await client.get("/everything", params={"limit": 801})).status_code == 422


def test_resource_page_size_in_openapi() -> None:
    params = {p["name"]: p for p in _app().openapi()["paths"]["/shelves"]["get"]["parameters"]}
    assert params["limit"]["schema"]["default"] == 3
    assert params["limit"]["schema"]["maximum"] == 5


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"default_limit": 0}, "between 1 and"),
        ({"max_limit": MAX_PAGE_LIMIT + 1}, "between 1 and"),
        ({"default_limit": 20, "max_limit": 10}, "above max_limit"),
    ],
)
def test_resource_page_size_declaration_errors(options: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Resource(Category, read=CategoryRead, **options)  # type: ignore[arg-type]


def test_caller_item_offers_get_and_update_unless_delete_is_asked_for() -> None:
    assert Resource(User, read=UserRead, update=UserSelfUpdate, lookup=Caller()).operations == (
        "get",
        "update",
    )
    asked = Resource(User, read=UserRead, lookup=Caller(), operations=["get", "delete"])
    assert asked.operations == ("get", "delete")


def test_two_resources_of_one_table_need_names_of_their_own() -> None:
    registry = ResourceRegistry(database, get_settings())
    people = Resource(User, read=UserRead, path="/people", operations=["get"])
    clashing = Resource(User, read=UserRead, path="/me", lookup=Caller())
    with pytest.raises(
        ValueError, match=r"operation id 'users.get' .* give one of them Resource\(name=\.\.\.\)"
    ):
        register(FastAPI(), people, clashing, registry=registry)
    app = FastAPI()
    me = Resource(User, read=UserRead, update=UserSelfUpdate, path="/me", lookup=Caller(), name="me")
    register(app, people, me, registry=ResourceRegistry(database, get_settings()))
    ids = {op["operationId"] for path in app.openapi()["paths"].values() for op in path.values()}
    assert {"users.get", "me.get", "me.update"} <= ids
    with pytest.raises(ValueError, match="lowercase letters"):
        Resource(User, read=UserRead, name="My Users")
