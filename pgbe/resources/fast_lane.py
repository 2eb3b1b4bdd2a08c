"""Generated routes answered in front of FastAPI's router: one dictionary lookup, no route scan.

FastAPI matches a request by trying its routes one after the other, inside its exception middleware
and exit-stack layer, and wraps the endpoint in a request/response adapter: tens of microseconds per
request before a generated handler starts, more than the handler itself costs. `ResourceFastLane` is
the innermost user middleware: it finds a generated route by method and path in a dictionary, runs
its handler and renders its errors with the application's own exception handlers, so every other
middleware (body limits, read-your-writes, cancel-on-disconnect, anything the project adds) still
applies. What it does not claim, the router gets exactly as before: other routes, 404, 405 with
Allow, slash redirects. It answers HEAD for every generated GET route: the GET's headers, no body.

Routes registered before a resource win over it, as in the router: when the table is built, each
earlier route is asked whether it would take the resource's paths (`EarlierRoutes`), and what it
would take is left to the router. Only numeric ids are claimed, so `/things/me` routes keep working.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from starlette._utils import get_route_path, is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pgbe.resources.routes import ResourceRoute

ITEM_SUFFIX = "/{id}"
ErrorHandler = Callable[[Request, Exception], Response | Awaitable[Response]]


class EarlierRoutes:
    """The routes registered before a generated one, asked whether they would take its requests."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = routes

    def shadow(self, method: str, path: str, *, item: bool) -> bool:
        """Say whether one of the routes fully matches `METHOD path` (item: `METHOD path/<number>`).

        Each route is asked with its own `matches`, so mounts, included routers and path converters
        answer for themselves; item paths are probed with a few ids, which finds every parameter
        route (a route for one particular number, `/things/7`, is not found).
        """
        probes = [f"{path}/{n}" for n in _PROBE_IDS] if item else [path]
        return any(_full_match(route, method, probe) for route in self.routes for probe in probes)


_PROBE_IDS = (1, 42, 2147483647)


def _full_match(route: BaseRoute, method: str, path: str) -> bool:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    try:
        return route.matches(scope)[0] == Match.FULL
    except Exception:  # a route that cannot be asked out of context: leave its paths to the router
        return True


class ResourceTable:
    """Generated routes by `(method, "/things")`, for `/things` and for `/things/<number>`."""

    def __init__(self, routes: Sequence[ResourceRoute] = ()) -> None:
        self.collections: dict[tuple[str, str], ResourceRoute] = {}
        self.items: dict[tuple[str, str], ResourceRoute] = {}
        for route in routes:
            self.add(route)

    def add(self, route: ResourceRoute, earlier: EarlierRoutes | None = None) -> None:
        """Claim the requests of `route` that no earlier route (nor one added before) would take."""
        item = route.path_format.endswith(ITEM_SUFFIX)
        path = route.path_format.removesuffix(ITEM_SUFFIX) if item else route.path_format
        if "{" in path:
            raise ValueError(f"{route.path_format}: only /things and /things/{{id}} are generated")
        table = self.items if item else self.collections
        for method in route.methods or ():
            claims = (method, "HEAD") if method == "GET" else (method,)  # HEAD goes where GET goes
            if earlier is not None and any(earlier.shadow(m, path, item=item) for m in claims):
                continue
            for claimed in claims:
                table.setdefault((claimed, path), route)

    def lookup(self, method: str, path: str) -> tuple[ResourceRoute, dict[str, str]] | None:
        """Return the route of `METHOD path` with its path parameters, or None.

        Only numeric ids are claimed: anything else goes to the router, which answers it the same
        way (a 422 from the same handler) unless an earlier route takes it.
        """
        route = self.collections.get((method, path))
        if route is not None:
            return route, {}
        parent, _, last = path.rpartition("/")
        if not (last.isascii() and last.isdigit() and len(last) <= _MAX_ID_DIGITS):
            return None
        route = self.items.get((method, parent))
        return (route, {"id": last}) if route is not None else None


_MAX_ID_DIGITS = 10


def resource_table(routes: Sequence[BaseRoute]) -> ResourceTable:
    """Build the table of every generated route in `routes`, each behind the routes before it."""
    from pgbe.resources.routes import ResourceRoute

    table = ResourceTable()
    for index, route in enumerate(routes):
        if isinstance(route, ResourceRoute):
            table.add(route, EarlierRoutes(routes[:index]))
    return table


class ResourceFastLane:
    """Serve generated routes without FastAPI's router; hand every other request on unchanged."""

    def __init__(self, app: ASGIApp, *, fastapi: FastAPI) -> None:
        self.app = app
        # Built with the middleware stack, on the first request: every route is registered by then.
        self.table = resource_table(fastapi.router.routes)
        handlers = fastapi.exception_handlers
        self.status_handlers: dict[int, ErrorHandler] = {
            k: v for k, v in handlers.items() if isinstance(k, int) and k != 500
        }
        self.handlers: dict[type[Exception], ErrorHandler] = {
            k: v for k, v in handlers.items() if isinstance(k, type) and k is not Exception
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.table.lookup(scope["method"], get_route_path(scope)) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        route, params = found
        scope["path_params"] = params
        scope["endpoint"] = route.endpoint
        scope["route"] = route
        request = Request(scope, receive, send)
        try:
            response = await route.handler(route.resource, request)
        except Exception as exc:
            response = await self._render(request, exc)
        if scope["method"] == "HEAD":
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": response.raw_headers,
                }
            )
            await send({"type": "http.response.body", "body": b""})
        else:
            await response(scope, receive, send)

    async def _render(self, request: Request, exc: Exception) -> Response:
        """Render `exc` with the application's handler for it, as FastAPI's exception middleware would."""
        handler: ErrorHandler | None = None
        if isinstance(exc, HTTPException):
            handler = self.status_handlers.get(exc.status_code)
        if handler is None:
            handler = next((self.handlers[c] for c in type(exc).__mro__ if c in self.handlers), None)
        if handler is None:
            raise exc  # the server error middleware outside logs it and answers 500
        if is_async_callable(handler):
            result: Any = await handler(request, exc)
        else:
            result = await run_in_threadpool(handler, request, exc)
        assert isinstance(result, Response)
        return result
