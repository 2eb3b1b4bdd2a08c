"""Generated routes answered in front of FastAPI's router: a dictionary lookup, no route scan.

FastAPI matches a request by trying its routes one after the other, inside its exception middleware
and exit-stack layer, and wraps the endpoint in a request/response adapter: tens of microseconds per
request before a generated handler starts, more than the handler itself costs. `ResourceFastLane` is
the innermost user middleware: it finds a generated route by method and path, runs its handler and
renders its errors with the application's own exception handlers, so every other middleware (body
limits, read-your-writes, cancel-on-disconnect, anything the project adds) still applies. What it
does not claim, the router gets exactly as before: other routes, 404, 405 with Allow, slash redirects.
It answers HEAD for every generated GET route: the GET's headers, no body.

The fast lane claims a request only when the router would give it to the same route with nothing
in between: a route that has FastAPI dependencies (the application's, a router's, an
`include_router`'s) or a body-size limit of its own is left to the router, which runs them. Routes
registered before a generated one win over it, as in the router: each earlier route is asked, when
the table is built, whether it would take the generated route's paths, and what it would take is
left to the router. A path parameter is claimed only for the values its route accepts (integer ids:
digits only), so `/things/me` routes keep working.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from starlette._utils import get_route_path, is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from fastapi import FastAPI

Claim = Callable[[str], bool]
ErrorHandler = Callable[[Request, Exception], Response | Awaitable[Response]]


@runtime_checkable
class Served(Protocol):
    """A route the fast lane may answer: `serve(request)`, and which values each path parameter takes."""

    claims: Mapping[str, Claim]

    def serve(self, request: Request) -> Awaitable[Response]: ...


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a route ended up in the application: its full path and what the router adds to it."""

    route: Any
    path: str
    methods: frozenset[str]
    plain: bool  # no dependencies, no body limit of its own: the fast lane may serve it


def placed_routes(routes: Sequence[BaseRoute]) -> Iterator[Placed]:
    """Yield every route of `routes` in the router's order, included routers resolved."""
    from fastapi import routing

    iter_contexts = getattr(routing, "iter_route_contexts", None)
    contexts: Iterator[Any] = iter_contexts(routes) if iter_contexts is not None else iter(routes)
    for ctx in contexts:
        path = getattr(ctx, "path_format", None) or getattr(ctx, "path", "")
        plain = not getattr(ctx, "dependencies", None) and getattr(ctx, "max_body_size", None) is None
        yield Placed(ctx, str(path), frozenset(getattr(ctx, "methods", None) or ()), plain)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A path template split in segments: a literal, or a parameter with the values it claims."""

    segments: tuple[str | None, ...]
    names: tuple[str, ...]
    claims: tuple[Claim, ...]

    @classmethod
    def parse(cls, path: str, claims: Mapping[str, Claim]) -> Pattern | None:
        """Return the pattern of `path`; None when a parameter has no claim (the router decides)."""
        segments: list[str | None] = []
        names: list[str] = []
        funcs: list[Claim] = []
        for part in path.split("/")[1:]:
            if part.startswith("{") and part.endswith("}"):
                name = part[1:-1]
                if name not in claims:
                    return None
                segments.append(None)
                names.append(name)
                funcs.append(claims[name])
            elif "{" in part or not part:
                return None
            else:
                segments.append(part)
        if not segments or segments[0] is None:
            return None
        return cls(tuple(segments), tuple(names), tuple(funcs))

    @property
    def literal(self) -> bool:
        """Tell whether the pattern has no parameter."""
        return not self.names

    def match(self, parts: Sequence[str]) -> dict[str, str] | None:
        """Return the parameters of a path split in segments (without the leading ""), or None."""
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        claims = iter(zip(self.names, self.claims, strict=True))
        for part, segment in zip(parts, self.segments, strict=True):
            if segment is None:
                name, claim = next(claims)
                if not claim(part):
                    return None
                params[name] = part
            elif part != segment:
                return None
        return params

    def probes(self) -> list[str]:
        """Paths this pattern claims, to ask earlier routes whether they would take them."""
        samples = ("1", "42", "2147483647", "probe-value")
        paths = []
        for sample in samples if self.names else samples[:1]:
            if all(claim(sample) for claim in self.claims):
                parts = [sample if s is None else s for s in self.segments]
                paths.append("/" + "/".join(parts))
        return paths


def _full_match(route: Any, method: str, path: str) -> bool:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    try:
        return bool(route.matches(scope)[0] == Match.FULL)
    except Exception:  # a route that cannot be asked out of context: leave its paths to the router
        return True


class RouteTable:
    """Generated routes by method and path, each behind the routes registered before it."""

    def __init__(self) -> None:
        self.exact: dict[tuple[str, str], Any] = {}
        self.patterns: dict[tuple[str, str, int], list[tuple[Pattern, Any]]] = {}
        self.deferred: set[tuple[str, str]] = set()

    def add(self, route: Any, pattern: Pattern, method: str) -> None:
        """Claim `METHOD pattern` for `route`, unless a route added before it takes the same paths."""
        head = pattern.segments[0]
        assert head is not None
        if pattern.literal:
            path = "/" + "/".join(s for s in pattern.segments if s is not None)
            if self._lookup(method, path) is None:
                self.exact.setdefault((method, path), route)
            return
        self.patterns.setdefault((method, head, len(pattern.segments)), []).append((pattern, route))

    def defer(self, method: str, path: str) -> None:
        """Leave `METHOD path` to the router (an earlier route takes that exact path)."""
        self.deferred.add((method, path))

    def lookup(self, method: str, path: str) -> tuple[Any, dict[str, str]] | None:
        """Return the route of `METHOD path` with its path parameters, or None."""
        if (method, path) in self.deferred:
            return None
        return self._lookup(method, path)

    def _lookup(self, method: str, path: str) -> tuple[Any, dict[str, str]] | None:
        route = self.exact.get((method, path))
        if route is not None:
            return route, {}
        parts = path.split("/")[1:]
        if not parts:
            return None
        for pattern, candidate in self.patterns.get((method, parts[0], len(parts)), ()):
            params = pattern.match(parts)
            if params is not None:
                return candidate, params
        return None


def route_table(routes: Sequence[BaseRoute]) -> RouteTable:
    """Build the table of the served routes in `routes`, each behind the routes before it.

    A route the table does not serve (a hand-written one, or a generated one with dependencies) is
    asked about every later generated route's paths: what it would take stays with the router.
    """
    table = RouteTable()
    others: list[Placed] = []
    for placed in placed_routes(routes):
        route = placed.route
        original = getattr(route, "original_route", route)
        pattern = None
        if isinstance(original, Served) and placed.plain:
            pattern = Pattern.parse(placed.path, original.claims)
        if pattern is None:
            others.append(placed)
            continue
        _claim(table, original, pattern, placed, others)
    return table


def _claim(table: RouteTable, route: Served, pattern: Pattern, placed: Placed, others: list[Placed]) -> None:
    probes = pattern.probes()
    literals = [
        o for o in others if "{" not in o.path and o.path and pattern.match(o.path.split("/")[1:]) is not None
    ]
    for method in sorted(placed.methods - {"HEAD"}):
        claims = (method, "HEAD") if method == "GET" else (method,)  # HEAD goes where GET goes
        for claimed in claims:
            if any(_full_match(o.route, claimed, probe) for o in others for probe in probes):
                continue
            for other in literals:  # `/things/me` before `/things/{slug}`: that one path stays theirs
                if _full_match(other.route, claimed, other.path):
                    table.defer(claimed, other.path)
            table.add(route, pattern, claimed)


class ResourceFastLane:
    """Serve generated routes without FastAPI's router; hand every other request on unchanged."""

    def __init__(self, app: ASGIApp, *, fastapi: FastAPI) -> None:
        self.app = app
        # Built with the middleware stack (at start-up, on the lifespan event): every route is in place.
        self.table = route_table(fastapi.router.routes)
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
            response = await route.serve(request)
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
