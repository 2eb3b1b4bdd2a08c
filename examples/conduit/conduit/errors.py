"""RealWorld's error body, `{"errors": {"body": ["..."]}}`, for every pgbe error under /api."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from pgbe.http.problems import ErrorShape


class ErrorBody(BaseModel):
    """What every error under /api answers: the messages, under `errors.body`."""

    errors: dict[str, list[str]]


def realworld_errors(problem: dict[str, Any]) -> dict[str, Any]:
    """Turn pgbe's problem document into RealWorld's body: one message per invalid field, or the detail."""
    messages = [
        f"{'.'.join(str(part) for part in err['loc'][1:]) or err['loc'][0]}: {err['msg']}"
        for err in problem.get("errors") or []
    ]
    return {"errors": {"body": messages or [problem["detail"]]}}


REALWORLD_ERRORS = ErrorShape(realworld_errors, schema=ErrorBody)
