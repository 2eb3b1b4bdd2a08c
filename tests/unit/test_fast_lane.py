"""ResourceFastLane: generated routes found by dictionary lookup, everything else left to the router."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from pgbe.errors import NotFoundError
from pgbe.http.problems import install_problem_handlers
from pgbe.resources.fast_lane import EarlierRoutes, ResourceFastLane, ResourceTable, resource_table
from pgbe.resources.routes import ResourceRoute


async def _endpoint() -> None:
    return None


async def _handler(resource: Any, request: Request) -> Response:
    """Answer with what the fast lane passed: the resource, the method and the path parameters."""
    if request.path_params.get("id") == "404":
        raise NotFoundError("thing 404 not found")
    if request.path_params.get("id") == "500":
        raise RuntimeError("boom")
    body = f"{resource}:{request.method}:{request.path_params.get('id', '-')}"
    return Response(body, headers={"X-Via": str(request.scope.get("route").path)})  # type: ignore[union-attr]


def _route(path: str, method: str) -> ResourceRoute:
    return ResourceRoute(path, _endpoint, resource="things", handler=_handler, methods=[method])  # type: ignore[arg-type]


def _routes() -> list[ResourceRoute]:
    return [
        _route("/things", "GET"),
        _route("/things/{id}", "GET"),
        _route("/things", "POST"),
        _route("/things/{id}", "PATCH"),
        _route("/things/{id}", "DELETE"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "index", "params"),
    [
        ("GET", "/things", 0, {}),
        ("GET", "/things/42", 1, {"id": "42"}),
        ("HEAD", "/things/42", 1, {"id": "42"}),
        ("HEAD", "/things", 0, {}),
        ("POST", "/things", 2, {}),
        ("PATCH", "/things/7", 3, {"id": "7"}),
        ("DELETE", "/things/7", 4, {"id": "7"}),
    ],
)
def test_table_generated_method_and_path_finds_its_route(
    method: str, path: str, index: int, params: dict[str, str]
) -> None:
    routes = _routes()
    found = ResourceTable(routes).lookup(method, path)
    assert found == (routes[index], params)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/things/1"),  # no such method: the router's 405 route answers
        ("DELETE", "/things"),
        ("GET", "/things/"),  # empty id: the router decides (redirect or 404)
        ("GET", "/things/abc"),  # not a number: the router, so that earlier routes like /things/me win
        ("GET", "/things/-1"),
        ("GET", "/things/12345678901"),
        ("GET", "/things/1/more"),
        ("GET", "/other/1"),
        ("GET", "/thingsx"),
    ],
)
def test_table_other_method_or_path_declines(method: str, path: str) -> None:
    assert ResourceTable(_routes()).lookup(method, path) is None


def test_table_rejects_a_path_it_cannot_look_up() -> None:
    with pytest.raises(ValueError, match="only /things"):
        ResourceTable([_route("/things/{id}/parts", "GET")])


@pytest.mark.parametrize(
    ("earlier", "method", "path", "item", "shadowed"),
    [
        (Route("/things/{slug}", _endpoint), "GET", "/things", True, True),
        (Route("/things/{slug}", _endpoint), "HEAD", "/things", True, True),
        (Route("/things/{slug}", _endpoint), "PATCH", "/things", True, False),  # a partial match only
        (Route("/things/me", _endpoint), "GET", "/things", True, False),  # "me" is never claimed
        (Route("/things", _endpoint), "GET", "/things", False, True),
        (Route("/things", _endpoint, methods=["POST"]), "GET", "/things", False, False),
        (Route("/thing", _endpoint), "GET", "/things", False, False),
        (Mount("/things", app=_endpoint), "DELETE", "/things", True, True),
        (Mount("/other", app=_endpoint), "DELETE", "/things", True, False),
    ],
)
def test_earlier_route_shadows_only_requests_it_would_take(
    earlier: Any, method: str, path: str, item: bool, shadowed: bool
) -> None:
    assert EarlierRoutes([earlier]).shadow(method, path, item=item) is shadowed


def test_resource_table_puts_each_route_behind_the_routes_before_it() -> None:
    router = APIRouter(prefix="/things")
    router.add_api_route("/{key}", _endpoint, methods=["GET"])
    routes = [Route("/things", _endpoint, methods=["POST"]), *_routes()]
    app = FastAPI()
    app.include_router(router)
    app.router.routes.extend(routes)
    table = resource_table(app.router.routes)
    assert table.lookup("GET", "/things/1") is None  # the included router's /things/{key} comes first
    assert table.lookup("HEAD", "/things/1") is None
    assert table.lookup("POST", "/things") is None  # the plain POST route comes first
    assert table.lookup("PATCH", "/things/1") == (routes[4], {"id": "1"})
    assert table.lookup("GET", "/things") == (routes[1], {})


def _client(*, before: list[Any] | None = None) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)
    for route in before or []:
        app.router.routes.append(route)
    app.router.routes.extend(_routes())
    from starlette.middleware import Middleware

    app.user_middleware.append(Middleware(ResourceFastLane, fastapi=app))
    return TestClient(app, raise_server_exceptions=False)


def test_fast_lane_serves_generated_route_with_its_parameters() -> None:
    response = _client().patch("/things/12")
    assert response.status_code == 200
    assert response.text == "things:PATCH:12"
    assert response.headers["x-via"] == "/things/{id}"


def test_fast_lane_head_answers_the_get_headers_without_body() -> None:
    client = _client()
    head = client.head("/things/12")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len("things:HEAD:12"))  # the length GET's body would have
    assert head.headers["x-via"] == "/things/{id}"


def test_fast_lane_renders_errors_with_the_app_handlers() -> None:
    response = _client().get("/things/404")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "thing 404 not found"


def test_fast_lane_unexpected_error_becomes_a_500_problem() -> None:
    response = _client().get("/things/500")
    assert response.status_code == 500
    assert response.json()["detail"] == "An unexpected error occurred"
    assert "boom" not in response.text


def test_fast_lane_leaves_an_earlier_route_its_requests() -> None:
    async def mine(_: Request) -> Response:
        return Response("mine")

    client = _client(before=[Route("/things/{slug}", mine)])
    assert client.get("/things/12").text == "mine"
    assert client.patch("/things/12").text == "things:PATCH:12"  # the earlier route takes GET only


def test_fast_lane_declined_requests_reach_the_router() -> None:
    client = _client()
    assert client.get("/things/abc").text == "things:GET:abc"  # the router's match of the same route
    assert client.get("/nowhere").status_code == 404
