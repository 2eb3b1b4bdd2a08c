"""Routes of generated resources: complete OpenAPI from declared signatures, served by raw handlers.

Each route is a FastAPI `APIRoute` built from a signature that declares every query parameter, the
body, the responses and the problem documents, so `/openapi.json` is complete. The route's ASGI app is
then replaced by the resource handler, which parses the request itself: FastAPI's per-request
dependency solving and response validation are skipped on the hot path (the handler's output is the
Read schema's JSON, which a test checks for every resource).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar, cast

from fastapi import FastAPI, Header, Path, Query
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, SmallInteger
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from pgbe.http.problems import problem_docs
from pgbe.query.params import INT4_MAX, MAX_IN_VALUES
from pgbe.resources import endpoints
from pgbe.resources.fast_lane import ResourceFastLane
from pgbe.resources.registry import ResourceRegistry
from pgbe.resources.resource import Resource

T = TypeVar("T")
Handler = Callable[[Resource, Request], Awaitable[Response]]

_DESCRIPTIONS = {
    401: "Not authenticated",
    403: "Not allowed",
    404: "No such row (or not yours)",
    409: "Conflict with a unique or foreign key constraint",
    412: "If-Match does not match the current version",
    413: "Body too large",
    422: "Invalid body, path or query parameter",
    428: "If-Match required",
    503: "Database unavailable",
}


class Page(BaseModel, Generic[T]):
    """A page of rows and the number of rows matching the filters."""

    items: list[T]
    total: int = Field(description="Rows matching the filters, on every page")
    skip: int
    limit: int


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return problem_docs({status: _DESCRIPTIONS[status] for status in statuses})


class ResourceRoute(APIRoute):
    """An APIRoute documented from its endpoint's signature and served by a resource handler.

    `ResourceFastLane` calls `handler(resource, request)` itself; the route's ASGI app does the same
    for the requests the fast lane leaves to the router.
    """

    def __init__(
        self, path: str, endpoint: Callable[..., Any], *, resource: Resource, handler: Handler, **kwargs: Any
    ) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.resource = resource
        self.handler = handler
        self.app = self._serve

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(self.resource, Request(scope, receive, send))
        await response(scope, receive, send)


def _documented(name: str, doc: str, params: list[inspect.Parameter]) -> Callable[..., Any]:
    async def endpoint(**kwargs: Any) -> None:  # pragma: no cover - never called, see ResourceRoute
        raise RuntimeError(f"served by the resource handler, not with {sorted(kwargs)}")

    endpoint.__name__ = name
    endpoint.__doc__ = doc
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return endpoint


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _csv_pattern(item: str) -> str:
    """A pattern for a comma-separated list of `item` (no empty item), so the OpenAPI is exact."""
    return f"^{item}(,{item})*$"


def _choice(names: Any) -> str:
    return "(" + "|".join(re.escape(name) for name in names) + ")"


def _include_param(res: Resource) -> list[inspect.Parameter]:
    if not res.spec.includes:
        return []
    allowed = ", ".join(res.spec.includes)
    query = Query(
        description=f"Related data to embed, comma-separated: {allowed}",
        pattern=_csv_pattern(_choice(res.spec.includes)),
    )
    return [_param("include", Annotated[str | None, query], None)]


def _filter_params(res: Resource) -> list[inspect.Parameter]:
    params: list[inspect.Parameter] = []
    for name, field in res.spec.filters.items():
        column_type = field.attribute.property.columns[0].type
        try:
            python_type: Any = column_type.python_type
        except NotImplementedError:
            python_type = str
        for op in sorted(field.operators):
            alias = name if op == "eq" else f"{name}__{op}"
            annotation: Any = python_type
            description = f"Rows whose {name} {op.replace('_', ' ')} the value"
            pattern = None
            if op == "in":
                annotation = str
                description = (
                    f"Rows whose {name} is one of these comma-separated values (at most {MAX_IN_VALUES})"
                )
                # integers of at most 9 digits always fit the int4 columns the example filters on
                pattern = _csv_pattern(r"-?[0-9]{1,9}" if python_type is int else "[^,]+")
            elif op == "isnull":
                annotation = bool
                description = f"true: rows without a {name}; false: rows with one"
            elif op in ("contains", "startswith", "icontains"):
                annotation = str
                description = f"Rows whose {name} {op} the text (% and _ match literally)"
            low = high = None
            if annotation is int:  # the range of the column's type, as the filter parser checks it
                bits = 16 if isinstance(column_type, SmallInteger) else 32
                bits = 64 if isinstance(column_type, BigInteger) else bits
                low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
            query = Query(alias=alias, description=description, pattern=pattern, ge=low, le=high)
            params.append(_param(f"filter_{len(params)}", Annotated[annotation | None, query], None))
    return params


def _list_params(res: Resource, registry: ResourceRegistry) -> list[inspect.Parameter]:
    sortable = ", ".join(res.spec.sort)
    return [
        _param("skip", Annotated[int, Query(ge=0, le=INT4_MAX, description="Rows to skip")], 0),
        _param(
            "limit",
            Annotated[int, Query(ge=0, le=registry.max_limit, description="Rows per page")],
            registry.default_limit,
        ),
        _param(
            "sort",
            Annotated[
                str | None,
                Query(
                    description=f"Comma-separated fields, `-` for descending. Allowed: {sortable}",
                    pattern=_csv_pattern("-?" + _choice(res.spec.sort)),
                ),
            ],
            None,
        ),
        *_include_param(res),
        *_filter_params(res),
    ]


_ID = _param("id", Annotated[int, Path(ge=1, le=INT4_MAX)])
_IF_MATCH = _param(
    "if_match",
    Annotated[str | None, Header(alias="If-Match", description="The ETag of the version you last read")],
    None,
)


def _body(schema: type[BaseModel]) -> inspect.Parameter:
    return _param("body", schema)


def _routes(res: Resource, registry: ResourceRegistry) -> list[APIRoute]:
    plural = res.model.__table__.name
    item = f"{res.path}/{{id}}"
    common: dict[str, Any] = {"tags": res.tags}
    auth = (401, 403)
    routes: list[APIRoute] = [
        ResourceRoute(
            res.path,
            _documented(
                f"list_{plural}", f"List {plural}: filter, sort, paginate.", _list_params(res, registry)
            ),
            resource=res,
            handler=endpoints.list_rows,
            methods=["GET"],
            response_model=Page[res.read],  # type: ignore[name-defined]
            responses=_problems(*auth, 422, 503),
            **common,
        ),
        ResourceRoute(
            item,
            _documented(f"get_{plural}", f"Get one of {plural} by id.", [_ID, *_include_param(res)]),
            resource=res,
            handler=endpoints.get_row,
            methods=["GET"],
            response_model=res.read,
            responses=_problems(*auth, 404, 422, 503),
            **common,
        ),
    ]
    if res.create_schema is not None:
        routes.append(
            ResourceRoute(
                res.path,
                _documented(f"create_{plural}", f"Create one of {plural}.", [_body(res.create_schema)]),
                resource=res,
                handler=endpoints.create_row,
                methods=["POST"],
                status_code=201,
                response_model=res.read,
                responses=_problems(*auth, 409, 413, 422, 503),
                **common,
            )
        )
    if res.update_schema is not None:
        routes.append(
            ResourceRoute(
                item,
                _documented(
                    f"update_{plural}",
                    f"Change some fields of one of {plural}."
                    + (
                        " The body shown is the widest one; which of its fields a caller may send depends on"
                        " the caller, and a field they may not change is a 422."
                        if res.update_schema_for is not None
                        else ""
                    ),
                    [_ID, _IF_MATCH, _body(res.update_schema)],
                ),
                resource=res,
                handler=endpoints.update_row_handler,
                methods=["PATCH"],
                response_model=res.read,
                responses=_problems(*auth, 404, 409, 412, 413, 422, 428, 503),
                **common,
            )
        )
    routes.append(
        ResourceRoute(
            item,
            _documented(f"delete_{plural}", f"Delete one of {plural}.", [_ID, _IF_MATCH]),
            resource=res,
            handler=endpoints.delete_row_handler,
            methods=["DELETE"],
            status_code=204,
            response_class=Response,
            responses=_problems(*auth, 404, 409, 412, 422, 428, 503),
            **common,
        )
    )
    return routes


class MethodNotAllowed:
    """The last route of a resource path: any other method answers 405 with every allowed method."""

    def __init__(self, allowed: list[str]) -> None:
        self.allow = ", ".join(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        del receive, send
        detail = f"{scope['method']} is not allowed here; use {self.allow}"
        raise HTTPException(405, detail, headers={"Allow": self.allow})


def register(
    app: FastAPI,
    *resources: Resource,
    registry: ResourceRegistry,
) -> ResourceRegistry:
    """Add the routes of `resources` to `app`, sharing `registry` (kept as `app.state.resources`)."""
    app.state.resources = registry
    for res in resources:
        if res.registry is not None:
            raise ValueError(f"resource {res.path} is registered twice")
        res.registry = registry
        registry.resources.append(res)
        routes = _routes(res, registry)
        app.router.routes.extend(routes)
        for path in dict.fromkeys(route.path for route in routes):
            methods = {m for r in routes if r.path == path for m in (r.methods or ())}
            methods |= {"HEAD"} if "GET" in methods else set()  # the fast lane answers HEAD
            app.router.routes.append(Route(path, MethodNotAllowed(sorted(methods)), include_in_schema=False))
    if not any(m.cls is cast(Any, ResourceFastLane) for m in app.user_middleware):
        # innermost: every middleware of the application still sees the generated routes' requests
        app.user_middleware.append(Middleware(ResourceFastLane, fastapi=app))
    app.openapi_schema = None
    return registry
