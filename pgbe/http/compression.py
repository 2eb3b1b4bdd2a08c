"""Response compression: gzip above a size threshold, for clients that accept it."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from pgbe.settings import PgbeSettings


def _accepts_gzip(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return b"gzip" in value.lower()
    return False


class CompressionMiddleware:
    """Starlette's gzip for the requests that accept it; every other request passes untouched.

    Starlette's middleware wraps every response, compressible or not, to add `Vary: Accept-Encoding`
    to large ones (about 6 us a request); a client that cannot take gzip gets the same bytes either
    way, so its requests skip it, and caches still see the `Vary` of every compressed response.
    """

    def __init__(self, app: ASGIApp, *, minimum_size: int, compresslevel: int = 6) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=compresslevel)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine: the caller awaits the inner app's own, so a request this layer leaves
        # alone has one frame fewer to resume at each of its awaits (see pgbe/stack.py).
        if scope["type"] == "http" and _accepts_gzip(scope):
            return self.gzip(scope, receive, send)
        return self.app(scope, receive, send)


def compression_middleware(settings: PgbeSettings) -> Middleware | None:
    """Return the gzip middleware, or None when compression is off."""
    if not settings.gzip_min_bytes:
        return None
    return Middleware(CompressionMiddleware, minimum_size=settings.gzip_min_bytes)
