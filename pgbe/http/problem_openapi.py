"""The OpenAPI side of error responses: the Problem schema, and what /openapi.json says errors look like."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from pgbe.errors import status_title

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pgbe.http.problems import ErrorShape

PROBLEM_TYPE_BASE = "https://pgbe.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


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


def document_problems(app: FastAPI, shape_for: Callable[[str], ErrorShape | None]) -> None:
    """Make `/openapi.json` say what is sent: problem+json (FastAPI's 422 too), or a prefix's shape."""
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
        problem_ref = dict(PROBLEM_REF)
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
        _document_shapes(schema, shape_for)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_shapes(schema: dict[str, Any], shape_for: Callable[[str], ErrorShape | None]) -> None:
    """Replace the problem documents of the operations under a shaped prefix with the shape's body."""
    components = schema["components"]["schemas"]
    for path, item in schema.get("paths", {}).items():
        shape = shape_for(path)
        if shape is None:
            continue
        body: dict[str, Any] = {"type": "object"}
        if shape.schema is not None:
            documented = shape.schema.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(documented.pop("$defs", {}))
            components.setdefault(shape.schema.__name__, documented)
            body = {"$ref": f"#/components/schemas/{shape.schema.__name__}"}
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                if any(media.get("schema") == PROBLEM_REF for media in content.values()):
                    response["content"] = {shape.media_type: {"schema": body}}


def problem_docs(descriptions: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """Return OpenAPI `responses` entries: a problem document for each status, with its description."""
    return {
        status: {
            "model": Problem,
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": dict(PROBLEM_REF)}},
        }
        for status, description in descriptions.items()
    }


ERROR_RESPONSES = problem_docs({status: status_title(status) for status in (404, 409, 413, 422, 503)})


__all__ = [
    "ERROR_RESPONSES",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_REF",
    "PROBLEM_TYPE_BASE",
    "FieldError",
    "Problem",
    "document_problems",
    "problem_docs",
]
