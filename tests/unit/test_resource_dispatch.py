"""ResourceDispatch: generated routes found by dictionary lookup, everything else left to the router."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match, NoMatchFound, Route

from pgbe.resources.dispatch import ResourceDispatch, install_resource_dispatch


async def _endpoint() -> None:
    return None


def _route(path: str, method: str) -> APIRoute:
    return APIRoute(path, _endpoint, methods=[method])


ROUTES = [
    _route("/things", "GET"),
    _route("/things/{id}", "GET"),
    _route("/things", "POST"),
    _route("/things/{id}", "PATCH"),
    _route("/things/{id}", "DELETE"),
]


def _scope(method: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", **extra}


@pytest.mark.parametrize(
    ("method", "path", "index", "params"),
    [
        ("GET", "/things", 0, {}),
        ("GET", "/things/42", 1, {"id": "42"}),
        ("POST", "/things", 2, {}),
        ("PATCH", "/things/abc", 3, {"id": "abc"}),
        ("DELETE", "/things/7", 4, {"id": "7"}),
    ],
)
def test_dispatch_generated_method_and_path_matches_its_route(
    method: str, path: str, index: int, params: dict[str, str]
) -> None:
    match, child = ResourceDispatch(ROUTES).matches(_scope(method, path))
    assert match == Match.FULL
    assert child["path_params"] == params
    assert child["pgbe.resource_route"] is ROUTES[index]
    assert child["endpoint"] is ROUTES[index].endpoint


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/things/1"),  # no such method: the router's 405 route answers
        ("HEAD", "/things/1"),
        ("DELETE", "/things"),
        ("GET", "/things/"),  # empty id: the router decides (redirect or 404)
        ("GET", "/things/1/more"),
        ("GET", "/other/1"),
        ("GET", "/thingsx"),
    ],
)
def test_dispatch_other_method_or_path_declines(method: str, path: str) -> None:
    assert ResourceDispatch(ROUTES).matches(_scope(method, path)) == (Match.NONE, {})


def test_dispatch_websocket_scope_declines() -> None:
    scope = {"type": "websocket", "path": "/things", "root_path": ""}
    assert ResourceDispatch(ROUTES).matches(scope)[0] == Match.NONE


def test_dispatch_under_root_path_matches_route_path() -> None:
    scope = _scope("GET", "/api/things/3", root_path="/api")
    match, child = ResourceDispatch(ROUTES).matches(scope)
    assert match == Match.FULL
    assert child["path_params"] == {"id": "3"}


def test_dispatch_builds_no_url() -> None:
    with pytest.raises(NoMatchFound):
        ResourceDispatch(ROUTES).url_path_for("list_things")


def test_install_dispatch_goes_before_generated_routes_after_earlier_ones() -> None:
    app = FastAPI()
    earlier = Route("/things/special", _endpoint)
    app.router.routes.append(earlier)
    app.router.routes.extend(ROUTES)
    catch_all = Route("/things/{id}", _endpoint)  # a 405 route of the same path, as register adds
    app.router.routes.append(catch_all)
    after = Route("/later", _endpoint)
    app.router.routes.append(after)

    dispatch = install_resource_dispatch(app, ROUTES)
    again = install_resource_dispatch(app, ROUTES)

    routes = app.router.routes
    assert dispatch is not None
    assert again is not None
    assert sum(isinstance(r, ResourceDispatch) for r in routes) == 1
    assert routes.index(earlier) < routes.index(again) < routes.index(ROUTES[0])
    assert again.matches(_scope("GET", "/things/special"))[0] == Match.FULL  # but `earlier` is tried first


def test_install_dispatch_stops_at_a_foreign_route_between_generated_ones() -> None:
    app = FastAPI()
    foreign = Route("/things/{id}/extra", _endpoint)
    app.router.routes.extend([ROUTES[0], foreign, ROUTES[1]])
    dispatch = install_resource_dispatch(app, [ROUTES[0], ROUTES[1]])
    assert dispatch is not None
    assert dispatch.matches(_scope("GET", "/things"))[0] == Match.FULL
    assert dispatch.matches(_scope("GET", "/things/1"))[0] == Match.NONE


def test_install_dispatch_without_generated_routes_adds_nothing() -> None:
    app = FastAPI()
    count = len(app.router.routes)
    assert install_resource_dispatch(app, []) is None
    assert len(app.router.routes) == count
