"""Routes of generated resources: added to a FastAPI app or router like any other route.

Each route is a FastAPI `APIRoute` whose endpoint's signature declares every query parameter, the
body, the responses and the problem documents, so `/openapi.json` is complete. The endpoint itself
is never called: the route serves the resource handler, which parses the request itself, so
FastAPI's per-request parameter parsing and response validation are skipped (the handler's output
is the Read schema's JSON, which a test checks for every resource). FastAPI dependencies of the
application, of a router or of an `include_router` are run before the handler, as for any route.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

from fastapi import APIRouter, FastAPI, params
from fastapi import routing as fastapi_routing
from fastapi.dependencies.utils import get_dependant, get_parameterless_sub_dependant
from fastapi.routing import APIRoute, get_request_handler
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from pgbe.resources.fast_lane import ResourceFastLane
from pgbe.resources.operations import Operation, Page, operations
from pgbe.resources.permissions import permission_name
from pgbe.resources.registry import ResourceRegistry
from pgbe.resources.resource import Resource
from pgbe.resources.runtime import ResourceRuntime

__all__ = ["MethodNotAllowed", "Page", "ResourceRoute", "install", "register"]


class ResourceRoute(APIRoute):
    """An APIRoute documented from its endpoint's signature and served by a resource handler.

    The fast lane calls `serve(request)` itself; the route's ASGI app, for the requests the fast
    lane leaves to the router, runs the route's FastAPI dependencies and then does the same. Copies
    made by FastAPI (an `include_router` of an older FastAPI) find their handler on the endpoint.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        operation: Operation = endpoint.operation  # type: ignore[attr-defined]
        self.runtime: ResourceRuntime = endpoint.runtime  # type: ignore[attr-defined]
        self.handler = operation.handler
        self.claims = operation.claims
        self.operation = operation
        own = " (own rows)" if operation.scoped else ""
        self.permission_label = permission_name(operation.permission) + own
        super().__init__(path, endpoint, **kwargs)

    async def serve(self, request: Request) -> Response:
        """Answer `request` with the resource handler."""
        return await self.handler(self.runtime, request)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The handler the router calls: the route's dependencies (if any), then `serve`."""
        route: Any = self
        context_var = getattr(fastapi_routing, "_effective_route_context_var", None)
        effective = context_var.get() if context_var is not None else None
        if effective is not None and effective.original_route is self:
            route = effective  # this route as an include_router placed it: prefix and dependencies
        dependencies: list[params.Depends] = list(route.dependencies)
        if not dependencies:
            return self.serve
        serve = self.serve

        async def after_dependencies(request: Request) -> Response:
            return await serve(request)

        path = route.path_format
        dependant = get_dependant(path=path, call=after_dependencies)
        for depends in reversed(dependencies):
            dependant.dependencies.insert(0, get_parameterless_sub_dependant(depends=depends, path=path))
        return get_request_handler(
            dependant=dependant,
            response_class=Response,
            dependency_overrides_provider=route.dependency_overrides_provider,
        )


class MethodNotAllowed:
    """The last route of a resource path: any other method answers 405 with every allowed method."""

    def __init__(self, allowed: list[str]) -> None:
        self.allow = ", ".join(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        del receive, send
        detail = f"{scope['method']} is not allowed here; use {self.allow}"
        raise HTTPException(405, detail, headers={"Allow": self.allow})


def _add(router: APIRouter, rt: ResourceRuntime, operation: Operation) -> list[ResourceRoute]:
    """Add the route of `operation` (and, for a GET, its undocumented HEAD twin) to `router`."""
    endpoint = operation.endpoint
    endpoint.operation = operation
    endpoint.runtime = rt
    methods = [[operation.method], ["HEAD"]] if operation.method == "GET" else [[operation.method]]
    routes = []
    # Stable operation ids (`products.list`): the names client generators give their functions.
    operation_id = f"{rt.resource.name}.{operation.name}"
    for each in methods:
        documented = each != ["HEAD"]
        router.add_api_route(
            operation.path,
            endpoint,
            methods=each,
            tags=list(rt.resource.tags),
            route_class_override=ResourceRoute,
            include_in_schema=documented,
            operation_id=operation_id if documented else f"{operation_id}.head",
            **operation.options,
        )
        route = router.routes[-1]
        assert isinstance(route, ResourceRoute)
        routes.append(route)
    return routes


def register(
    target: FastAPI | APIRouter,
    *resources: Resource,
    registry: ResourceRegistry,
) -> ResourceRegistry:
    """Add the routes of `resources` to an application or a router, sharing `registry`.

    Routes added to a router get its prefix and dependencies, and those of the `include_router` that
    places it, like any route. Given an application, this also installs the fast lane
    (`install(app, registry)`); an application that includes a router of resources calls `install`
    itself. Declaration errors (a path two routes claim) are raised here.
    """
    router = target.router if isinstance(target, FastAPI) else target
    for res in resources:
        if any(other.resource is res for other in registry.runtimes):
            raise ValueError(f"resource {res.path} is registered twice")
        if res.token_field is not None and registry.auth is None:
            raise ValueError(f"{res} answers with access tokens (token=): create_app(auth=...) signs them")
        rt = ResourceRuntime(res, registry)
        routes = [route for op in operations(rt) for route in _add(router, rt, op)]
        for route in routes:
            clash = next((r for r in registry.routes if _same_route(r, route)), None)
            if clash is not None:
                raise ValueError(
                    f"{sorted(route.methods or ())} {route.path} is declared twice ({clash.runtime.resource})"
                )
            taken = next((r for r in registry.routes if r.operation_id == route.operation_id), None)
            if taken is not None:
                raise ValueError(
                    f"operation id {route.operation_id!r} of {res} is taken by {taken.runtime.resource}:"
                    f" give one of them Resource(name=...)"
                )
        registry.runtimes.append(rt)
        registry.routes.extend(routes)
        for path in dict.fromkeys(route.path for route in routes):
            methods = {m for r in routes if r.path == path for m in (r.methods or ())}
            router.routes.append(Route(path, MethodNotAllowed(sorted(methods)), include_in_schema=False))
    if isinstance(target, FastAPI):
        install(target, registry)
    return registry


def _same_route(a: ResourceRoute, b: ResourceRoute) -> bool:
    return a is not b and a.path == b.path and bool(set(a.methods or ()) & set(b.methods or ()))


_WORDS = {"list": "list (filter, sort, paginate)", "get": "get", "create": "create", "update": "change"}


def _offered(res: Resource) -> str:
    """What a resource offers, in words: `list (filter, sort, paginate), get, create, change and delete`."""
    words = [_WORDS.get(op, op) for op in res.operations]
    words += [f"{view.name} (a list)" for view in res.views] + [action.name for action in res.actions]
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else "".join(words)


def _tag_descriptions(app: FastAPI, registry: ResourceRegistry) -> None:
    """Describe each resource's tag in the OpenAPI, unless the application describes it already."""
    tags = list(app.openapi_tags or [])
    named = {tag["name"] for tag in tags}
    for rt in registry.runtimes:
        res = rt.resource
        doc = (res.model.__doc__ or "").strip().splitlines()
        what = doc[0].rstrip(".") if doc else res.label
        for name in res.tags:
            if name not in named:
                named.add(name)
                tags.append({"name": name, "description": f"{what}: {_offered(res)}."})
    app.openapi_tags = tags


def install(app: FastAPI, registry: ResourceRegistry) -> None:
    """Serve generated routes through the fast lane and keep `registry` as `app.state.resources`."""
    app.state.resources = registry
    _tag_descriptions(app, registry)
    if not any(m.cls is cast(Any, ResourceFastLane) for m in app.user_middleware):
        # innermost: every middleware of the application still sees the generated routes' requests
        app.user_middleware.append(Middleware(ResourceFastLane, fastapi=app))
    app.openapi_schema = None
