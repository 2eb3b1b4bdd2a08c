"""ResourceFastLane: generated routes found by lookup, everything else left to the router."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from pgbe.errors import NotFoundError
from pgbe.http.problems import install_problem_handlers
from pgbe.resources.fast_lane import Pattern, ResourceFastLane, route_table
from pgbe.resources.routes import positive_int4


def _any(raw: str) -> bool:
    return bool(raw)


class FakeRoute(Route):
    """A served route answering with what the fast lane passed: its name, method and parameters."""

    def __init__(
        self, path: str, method: str, claims: Mapping[str, Callable[[str], bool]] | None = None
    ) -> None:
        super().__init__(path, self._asgi, methods=[method])
        self.claims = claims if claims is not None else {"id": positive_int4}

    async def serve(self, request: Request) -> Response:
        if request.path_params.get("id") == "404":
            raise NotFoundError("thing 404 not found")
        if request.path_params.get("id") == "500":
            raise RuntimeError("boom")
        params = ",".join(f"{k}={v}" for k, v in sorted(request.path_params.items())) or "-"
        return Response(f"{self.path}:{request.method}:{params}")

    async def _asgi(self, request: Request) -> Response:  # the router's way in: the same answer
        return await self.serve(request)


def _routes() -> list[FakeRoute]:
    return [
        FakeRoute("/things", "GET"),
        FakeRoute("/things/{id}", "GET"),
        FakeRoute("/things", "POST"),
        FakeRoute("/things/{id}", "PATCH"),
        FakeRoute("/things/{id}", "DELETE"),
    ]


async def _endpoint(_: Request) -> Response:
    return Response("hand-written")


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
    assert route_table(routes).lookup(method, path) == (routes[index], params)


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
    assert route_table(_routes()).lookup(method, path) is None


def test_table_string_lookup_claims_any_segment_and_nested_paths() -> None:
    routes = [
        FakeRoute("/articles/{slug}", "GET", {"slug": _any}),
        FakeRoute("/articles/{slug}/comments/{id}", "GET", {"slug": _any, "id": positive_int4}),
    ]
    table = route_table(routes)
    assert table.lookup("GET", "/articles/how-to-train") == (routes[0], {"slug": "how-to-train"})
    assert table.lookup("GET", "/articles/a/comments/3") == (routes[1], {"slug": "a", "id": "3"})
    assert table.lookup("GET", "/articles/a/comments/x") is None


def test_table_route_order_decides_between_literal_and_parameter_like_the_router() -> None:
    feed = FakeRoute("/articles/feed", "GET", {})
    item = FakeRoute("/articles/{slug}", "GET", {"slug": _any})
    assert route_table([feed, item]).lookup("GET", "/articles/feed") == (feed, {})
    assert route_table([item, feed]).lookup("GET", "/articles/feed") == (item, {"slug": "feed"})


def test_pattern_with_unclaimed_parameter_is_left_to_the_router() -> None:
    assert Pattern.parse("/{tenant}/things", {"id": positive_int4}) is None
    assert Pattern.parse("/things/{id}", {"id": positive_int4}) is not None


@pytest.mark.parametrize(
    ("earlier", "method", "path", "claimed"),
    [
        (Route("/things/{slug}", _endpoint), "GET", "/things/1", False),
        (Route("/things/{slug}", _endpoint), "HEAD", "/things/1", False),
        (Route("/things/{slug}", _endpoint), "PATCH", "/things/1", True),  # a partial match only
        (Route("/things", _endpoint), "GET", "/things", False),
        (Route("/things", _endpoint, methods=["POST"]), "GET", "/things", True),
        (Route("/thing", _endpoint), "GET", "/things", True),
        (Mount("/things", app=_endpoint), "DELETE", "/things/1", False),
        (Mount("/other", app=_endpoint), "DELETE", "/things/1", True),
    ],
)
def test_earlier_route_keeps_the_requests_it_would_take(
    earlier: Any, method: str, path: str, claimed: bool
) -> None:
    assert (route_table([earlier, *_routes()]).lookup(method, path) is not None) is claimed


def test_earlier_literal_route_keeps_its_path_for_its_methods() -> None:
    routes = [
        FakeRoute("/articles/{slug}", "GET", {"slug": _any}),
        FakeRoute("/articles/{slug}", "PATCH", {"slug": _any}),
    ]
    table = route_table([Route("/articles/me", _endpoint), *routes])
    assert table.lookup("GET", "/articles/me") is None
    assert table.lookup("PATCH", "/articles/me") == (routes[1], {"slug": "me"})  # as in the router: GET only
    assert table.lookup("GET", "/articles/you") == (routes[0], {"slug": "you"})


def test_table_finds_routes_of_an_included_router_at_their_full_path() -> None:
    router = APIRouter()
    router.routes.extend(_routes())
    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    table = route_table(app.router.routes)
    found = table.lookup("PATCH", "/api/v1/things/3")
    assert found is not None
    assert found[1] == {"id": "3"}
    assert table.lookup("PATCH", "/things/3") is None


def _client(*, before: list[Any] | None = None) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)
    app.router.routes.extend(before or [])
    app.router.routes.extend(_routes())
    app.user_middleware.append(Middleware(ResourceFastLane, fastapi=app))
    return TestClient(app, raise_server_exceptions=False)


def test_fast_lane_serves_generated_route_with_its_parameters() -> None:
    response = _client().patch("/things/12")
    assert response.status_code == 200
    assert response.text == "/things/{id}:PATCH:id=12"


def test_fast_lane_head_answers_the_get_headers_without_body() -> None:
    head = _client().head("/things/12")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len("/things/{id}:HEAD:id=12"))


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
    assert client.patch("/things/12").text == "/things/{id}:PATCH:id=12"  # the earlier route takes GET only


def test_fast_lane_declined_requests_reach_the_router() -> None:
    client = _client()
    assert client.get("/things/abc").text == "/things/{id}:GET:id=abc"  # the router's match of the same route
    assert client.get("/nowhere").status_code == 404
