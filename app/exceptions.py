"""The application's error tree: pgbe's errors, and the place for the application's own."""

from pgbe.errors import (
    AppError,
    BadRequestError,
    ConflictError,
    GatewayTimeoutError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PreconditionFailedError,
    PreconditionRequiredError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UnauthorizedError,
    ValidationError,
)

__all__ = [
    "AppError",
    "BadRequestError",
    "ConflictError",
    "GatewayTimeoutError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "PreconditionRequiredError",
    "ServiceUnavailableError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "ValidationError",
]
