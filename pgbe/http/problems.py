"""Render every error as an RFC 9457 problem document, in one place."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from pgbe.db.errors import translate
from pgbe.errors import AppError, ServiceUnavailableError
from pgbe.observability.context import current_request_id
from pgbe.observability.request_id import HEADER as REQUEST_ID_HEADER

PROBLEM_TYPE_BASE = "https://pgbe.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("pgbe.errors")


class FieldError(BaseModel):
    """One invalid input field."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document: the body of every error response."""

    type: str = Field(examples=[f"{PROBLEM_TYPE_BASE}not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["Product 7 not found"])
    field: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = Field(default=None, description="The request's X-Request-ID, for support")


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


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
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or str(status)),
        "title": title or _TITLES.get(status, "Error"),
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
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def app_error_response(exc: AppError) -> Response:
    """Render a framework error."""
    return problem_response(
        exc.status_code,
        exc.detail,
        slug=exc.type_slug,
        title=exc.title,
        field=exc.field,
        errors=exc.errors,
        headers=exc.headers,
    )


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    cleaned = []
    for err in errors:
        loc = [part if isinstance(part, int) else str(part) for part in err.get("loc", ())]
        cleaned.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return cleaned


async def _app_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return app_error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _clean_errors(exc.errors())
    first = errors[0] if errors else None
    detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}" if first else "Invalid request"
    return problem_response(422, detail, slug="validation", errors=errors)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))


async def _database_error(_: Request, exc: Exception) -> Response:
    error = translate(exc)
    if error is None:
        logger.exception("unexpected database error", exc_info=exc)
        return problem_response(500, "An unexpected error occurred", slug="internal")
    return app_error_response(error)


async def _unexpected_error(_: Request, exc: Exception) -> Response:
    logger.exception("unhandled error", exc_info=exc)
    # Sent by the server error middleware, outside the one that echoes the id on every response.
    request_id = current_request_id()
    headers = {REQUEST_ID_HEADER: request_id} if request_id is not None else None
    return problem_response(500, "An unexpected error occurred", slug="internal", headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error as problem+json."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
    for cls in _driver_error_classes():
        app.add_exception_handler(cls, _database_error)
    _document_problems(app)


def _document_problems(app: FastAPI) -> None:
    """Make `/openapi.json` say what is sent: FastAPI's default 422 is documented as problem+json."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components.setdefault("Problem", problem)
        default_422 = {"$ref": "#/components/schemas/HTTPValidationError"}
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                response = operation.get("responses", {}).get("422", {})
                content = response.get("content", {})
                if content.get("application/json", {}).get("schema") == default_422:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}}
                if "requestBody" in operation:  # a body that is not even text or form data
                    operation["responses"].setdefault(
                        "400",
                        {
                            "description": "The body could not be parsed",
                            "content": {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}},
                        },
                    )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _driver_error_classes() -> list[type[Exception]]:
    import asyncpg
    import psycopg

    return [asyncpg.PostgresError, asyncpg.InterfaceError, psycopg.Error, DBAPIError]


def problem_docs(descriptions: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """Return OpenAPI `responses` entries: a problem document for each status, with its description."""
    return {
        status: {
            "model": Problem,
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, description in descriptions.items()
    }


ERROR_RESPONSES = problem_docs({status: _TITLES[status] for status in (404, 409, 413, 422, 503)})

__all__ = [
    "ERROR_RESPONSES",
    "Problem",
    "ServiceUnavailableError",
    "install_problem_handlers",
    "problem_docs",
    "problem_response",
]
