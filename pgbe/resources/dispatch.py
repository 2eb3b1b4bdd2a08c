"""One dictionary lookup instead of a scan of every route, for the routes of generated resources.

FastAPI's router tries its routes one after the other (a regex and a few scope look-ups each), so a
resource registered after the health, auth and hand-written routes pays tens of microseconds before
its handler runs. `ResourceDispatch` is a single route placed first in the router: it finds a
generated route by method and path in a dictionary and hands the request to it, or declines (the
router then goes on exactly as before: other routes, 405 with Allow, 404, slash redirects). Every
middleware and exception handler still applies, since dispatch happens inside the router; the
resource routes stay in the router too, for OpenAPI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

_ROUTE_KEY = "pgbe.resource_route"
_ITEM_SUFFIX = "/{id}"


class ResourceDispatch(BaseRoute):
    """Match `METHOD /things` and `METHOD /things/{id}` of generated resources by dictionary lookup."""

    def __init__(self, routes: Sequence[APIRoute]) -> None:
        self.collections: dict[tuple[str, str], APIRoute] = {}
        self.items: dict[tuple[str, str], APIRoute] = {}
        for route in routes:
            path = route.path_format
            table = self.items if path.endswith(_ITEM_SUFFIX) else self.collections
            key_path = path.removesuffix(_ITEM_SUFFIX) if table is self.items else path
            if "{" in key_path:
                raise ValueError(f"{path}: only /things and /things/{{id}} are dispatched")
            for method in route.methods or ():
                if method != "HEAD":  # HEAD goes the usual way
                    table[(method, key_path)] = route

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Return FULL with the generated route's child scope, or NONE to let the router go on."""
        if scope["type"] != "http":
            return Match.NONE, {}
        method = scope["method"]
        path = get_route_path(scope)
        route = self.collections.get((method, path))
        params: dict[str, Any] = {}
        if route is None:
            parent, _, last = path.rpartition("/")
            route = self.items.get((method, parent)) if last else None
            if route is None:
                return Match.NONE, {}
            params = {"id": last}
        return Match.FULL, {"endpoint": route.endpoint, "path_params": params, _ROUTE_KEY: route}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the matched generated route's handler."""
        await scope[_ROUTE_KEY].app(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        """Decline: URLs are built from the resource routes themselves, which stay in the router."""
        raise NoMatchFound(name, path_params)


def install_resource_dispatch(app: Starlette, generated: Sequence[APIRoute]) -> ResourceDispatch | None:
    """Put a ResourceDispatch for the `generated` routes in front of them (replacing an old one).

    It is inserted where the first generated route is, so every route registered before the
    resources still wins as it did; it covers the generated routes of that block (the 405 routes of
    the same paths sit in between) and stops at the first other route.
    """
    routes = app.router.routes
    routes[:] = [r for r in routes if not isinstance(r, ResourceDispatch)]
    ids = {id(r) for r in generated}
    start = next((i for i, r in enumerate(routes) if id(r) in ids), None)
    if start is None:
        return None
    covered: list[APIRoute] = []
    paths: set[str] = set()
    for route in routes[start:]:
        if id(route) in ids:
            assert isinstance(route, APIRoute)
            covered.append(route)
            paths.add(route.path)
        elif getattr(route, "path", None) not in paths:
            break
    dispatch = ResourceDispatch(covered)
    routes.insert(start, dispatch)
    return dispatch
