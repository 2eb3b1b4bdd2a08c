"""Render every error as an RFC 9457 problem document (or its prefix's declared shape), in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from pgbe.db.errors import translate
from pgbe.errors import AppError, ServiceUnavailableError, status_title
from pgbe.http.problem_openapi import (
    ERROR_RESPONSES,
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPE_BASE,
    FieldError,
    Problem,
    document_problems,
    problem_docs,
)
from pgbe.observability.context import current_request_id
from pgbe.observability.request_id import HEADER as REQUEST_ID_HEADER

logger = logging.getLogger("pgbe.errors")


ShapeRender = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class ErrorShape:
    """Another body for the errors under a path prefix: `render(problem)` returns the JSON to send.

    `problem` is the problem document pgbe would have sent (type, title, status, detail, and field,
    errors, request_id when present); the status code and headers stay. `schema` documents the body in
    OpenAPI in place of Problem.
    """

    render: ShapeRender
    schema: type[BaseModel] | None = None
    media_type: str = "application/json"


def problem_body(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the problem document of an error: the one place its fields are put together."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or str(status)),
        "title": title or status_title(status),
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if errors is not None:
        body["errors"] = errors
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    return body


class Problems:
    """Renders error responses: problem+json, or the shape declared for the request path's prefix."""

    def __init__(self, shapes: Mapping[str, ErrorShape | ShapeRender] | None = None) -> None:
        declared = {
            prefix.rstrip("/"): shape if isinstance(shape, ErrorShape) else ErrorShape(shape)
            for prefix, shape in (shapes or {}).items()
        }
        # Longest prefix first, so "/api/admin" wins over "/api".
        self.shapes = sorted(declared.items(), key=lambda item: len(item[0]), reverse=True)

    def shape_for(self, path: str) -> ErrorShape | None:
        """Return the shape declared for `path` (a prefix matches whole segments), or None."""
        for prefix, shape in self.shapes:
            if path == prefix or path.startswith(prefix + "/") or not prefix:
                return shape
        return None

    def response(
        self,
        path: str,
        status: int,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> Response:
        """Return the error response for a request to `path` (`fields`: slug, title, field, errors)."""
        body = problem_body(status, detail, **fields)
        shape = self.shape_for(path) if self.shapes else None
        if shape is None:
            return Response(
                orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
            )
        content = orjson.dumps(shape.render(body))
        return Response(content, status_code=status, headers=headers, media_type=shape.media_type)

    def error_response(self, path: str, exc: AppError) -> Response:
        """Return the response of a framework error."""
        return self.response(
            path,
            exc.status_code,
            exc.detail,
            slug=exc.type_slug,
            title=exc.title,
            field=exc.field,
            errors=exc.errors,
            headers=exc.headers,
        )


DEFAULT_PROBLEMS = Problems()


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Return a problem+json response."""
    return DEFAULT_PROBLEMS.response(
        "", status, detail, slug=slug, title=title, field=field, errors=errors, headers=headers
    )


def app_error_response(exc: AppError) -> Response:
    """Render a framework error as problem+json."""
    return DEFAULT_PROBLEMS.error_response("", exc)


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    cleaned = []
    for err in errors:
        loc = [part if isinstance(part, int) else str(part) for part in err.get("loc", ())]
        cleaned.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return cleaned


def _path(request: Request) -> str:
    return get_route_path(request.scope)


def _handlers(problems: Problems) -> dict[Any, Callable[[Request, Exception], Any]]:
    """Return the exception handlers that render every error through `problems`."""

    async def app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        return problems.error_response(_path(request), exc)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = _clean_errors(exc.errors())
        first = errors[0] if errors else None
        detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}" if first else "Invalid request"
        return problems.response(_path(request), 422, detail, slug="validation", errors=errors)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        headers = getattr(exc, "headers", None)
        return problems.response(_path(request), exc.status_code, str(exc.detail), headers=headers)

    async def database_error(request: Request, exc: Exception) -> Response:
        error = translate(exc)
        if error is None:
            logger.exception("unexpected database error", exc_info=exc)
            return problems.response(_path(request), 500, "An unexpected error occurred", slug="internal")
        return problems.error_response(_path(request), error)

    async def unexpected_error(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error", exc_info=exc)
        # Sent by the server error middleware, outside the one that echoes the id on every response.
        request_id = current_request_id()
        headers = {REQUEST_ID_HEADER: request_id} if request_id is not None else None
        return problems.response(
            _path(request), 500, "An unexpected error occurred", slug="internal", headers=headers
        )

    handlers: dict[Any, Callable[[Request, Exception], Any]] = {
        AppError: app_error,
        RequestValidationError: validation_error,
        StarletteHTTPException: http_error,
        SQLAlchemyError: database_error,
        PoolTimeoutError: database_error,
        OSError: database_error,
        Exception: unexpected_error,
    }
    for cls in _driver_error_classes():
        handlers[cls] = database_error
    return handlers


def install_problem_handlers(
    app: FastAPI, *, shapes: Mapping[str, ErrorShape | ShapeRender] | None = None
) -> Problems:
    """Register the handlers that render every error, as problem+json or in its prefix's shape.

    The renderer is returned and kept as `app.state.problems`, for middleware that answers by itself.
    """
    problems = Problems(shapes)
    for cls, handler in _handlers(problems).items():
        app.add_exception_handler(cls, handler)
    app.state.problems = problems
    document_problems(app, problems.shape_for)
    return problems


def _driver_error_classes() -> list[type[Exception]]:
    import asyncpg
    import psycopg

    return [asyncpg.PostgresError, asyncpg.InterfaceError, psycopg.Error, DBAPIError]


__all__ = [
    "DEFAULT_PROBLEMS",
    "ERROR_RESPONSES",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "ErrorShape",
    "FieldError",
    "Problem",
    "Problems",
    "ServiceUnavailableError",
    "app_error_response",
    "install_problem_handlers",
    "problem_body",
    "problem_docs",
    "problem_response",
]
