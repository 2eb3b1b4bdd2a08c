"""The framework's error tree: raised by controllers and resources, rendered to HTTP in one place."""

from __future__ import annotations

from typing import Any, ClassVar

# The title of each status pgbe answers with: the one table problem bodies take their titles from.
STATUS_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def status_title(status: int) -> str:
    """Return the title of an HTTP status ("Error" for one pgbe does not answer with)."""
    return STATUS_TITLES.get(status, "Error")


class AppError(Exception):
    """Base of every error pgbe turns into an HTTP problem response."""

    status_code: ClassVar[int] = 500
    title: ClassVar[str] = STATUS_TITLES[500]
    type_slug: ClassVar[str] = "internal"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "title" not in cls.__dict__:  # the status's title unless the class names its own
            cls.title = status_title(cls.status_code)

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.errors = errors
        self.headers = headers or {}


class BadRequestError(AppError):
    status_code = 400
    type_slug = "bad-request"


class UnauthorizedError(AppError):
    status_code = 401
    type_slug = "unauthorized"

    def __init__(self, detail: str = "Not authenticated", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class PermissionDeniedError(AppError):
    status_code = 403
    type_slug = "forbidden"


class NotFoundError(AppError):
    status_code = 404
    type_slug = "not-found"


class ConflictError(AppError):
    status_code = 409
    type_slug = "conflict"


class PreconditionFailedError(AppError):
    status_code = 412
    type_slug = "precondition-failed"


class PayloadTooLargeError(AppError):
    status_code = 413
    type_slug = "payload-too-large"


class UnsupportedMediaTypeError(AppError):
    status_code = 415
    type_slug = "unsupported-media-type"


class ValidationError(AppError):
    status_code = 422
    type_slug = "validation"


class FilterTooCostlyError(ValidationError):
    """A list's filters took longer than their time budget: the same request would again; narrow it."""

    type_slug = "filter-too-costly"


class PreconditionRequiredError(AppError):
    status_code = 428
    type_slug = "precondition-required"


class TooManyRequestsError(AppError):
    status_code = 429
    type_slug = "too-many-requests"


class ServiceUnavailableError(AppError):
    status_code = 503
    type_slug = "unavailable"

    def __init__(
        self, detail: str = "The database is unavailable", *, retry_after: int = 1, **kw: Any
    ) -> None:
        headers = {"Retry-After": str(retry_after), **kw.pop("headers", {})}
        super().__init__(detail, headers=headers, **kw)


class GatewayTimeoutError(ServiceUnavailableError):
    status_code = 504
    type_slug = "timeout"
