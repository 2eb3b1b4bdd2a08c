"""Cross-origin requests: Starlette's CORS middleware, configured from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

if TYPE_CHECKING:
    from pgbe.settings import PgbeSettings

# Headers a browser may read from a cross-origin response: what the generated routes send.
EXPOSED_HEADERS = ["ETag", "Location", "Link", "X-Request-ID", "X-Min-LSN", "Retry-After"]


def cors_middleware(settings: PgbeSettings) -> Middleware | None:
    """Return the CORS middleware of the allowed origins, or None when none is allowed."""
    if not settings.cors_origins:
        return None
    return Middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=settings.cors_allow_credentials,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID"],
        expose_headers=EXPOSED_HEADERS,
        max_age=settings.cors_max_age,
    )
