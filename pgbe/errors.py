"""The framework's error tree: raised by controllers and resources, rendered to HTTP in one place."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every error pgbe turns into an HTTP problem response."""

    status_code = 500
    title = "Internal Server Error"
    type_slug = "internal"

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
    title = "Bad Request"
    type_slug = "bad-request"


class UnauthorizedError(AppError):
    status_code = 401
    title = "Unauthorized"
    type_slug = "unauthorized"

    def __init__(self, detail: str = "Not authenticated", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class PermissionDeniedError(AppError):
    status_code = 403
    title = "Forbidden"
    type_slug = "forbidden"


class NotFoundError(AppError):
    status_code = 404
    title = "Not Found"
    type_slug = "not-found"


class ConflictError(AppError):
    status_code = 409
    title = "Conflict"
    type_slug = "conflict"


class PreconditionFailedError(AppError):
    status_code = 412
    title = "Precondition Failed"
    type_slug = "precondition-failed"


class PayloadTooLargeError(AppError):
    status_code = 413
    title = "Content Too Large"
    type_slug = "payload-too-large"


class UnsupportedMediaTypeError(AppError):
    status_code = 415
    title = "Unsupported Media Type"
    type_slug = "unsupported-media-type"


class ValidationError(AppError):
    status_code = 422
    title = "Unprocessable Content"
    type_slug = "validation"


class PreconditionRequiredError(AppError):
    status_code = 428
    title = "Precondition Required"
    type_slug = "precondition-required"


class TooManyRequestsError(AppError):
    status_code = 429
    title = "Too Many Requests"
    type_slug = "too-many-requests"


class ServiceUnavailableError(AppError):
    status_code = 503
    title = "Service Unavailable"
    type_slug = "unavailable"

    def __init__(
        self, detail: str = "The database is unavailable", *, retry_after: int = 1, **kw: Any
    ) -> None:
        headers = {"Retry-After": str(retry_after), **kw.pop("headers", {})}
        super().__init__(detail, headers=headers, **kw)


class GatewayTimeoutError(ServiceUnavailableError):
    status_code = 504
    title = "Gateway Timeout"
    type_slug = "timeout"
