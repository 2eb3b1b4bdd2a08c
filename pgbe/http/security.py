"""Security layers of every response: allowed Host names, nosniff, no-store, the 401 challenge."""

from __future__ import annotations

from collections.abc import Sequence

from starlette._utils import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgbe.http import SAFE_METHODS
from pgbe.http.problems import DEFAULT_PROBLEMS, Problems

# Probes of orchestrators address a pod by its IP; health answers build no URL from the Host.
HOST_EXEMPT_PREFIX = "/health/"
DEFAULT_CHALLENGE = "Bearer"  # what pgbe.errors.UnauthorizedError sends unless told otherwise


def host_name(header: str) -> str:
    """Return the host of a Host header without its port, lower case ("[::1]:80" gives "::1")."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else ""
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(host: str, patterns: Sequence[str]) -> bool:
    """Tell whether `host` is one of `patterns` ("*.example.com" matches its subdomains, "*" any)."""
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern == "*" or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


class TrustedHostMiddleware:
    """Answer 400 to a request whose Host is not allowed, before anything can reflect it into a URL.

    Like Starlette's middleware of the same name, with three differences that pgbe needs: the answer
    is a problem document, IPv6 literals are understood, and health probes are exempt. Host headers
    found allowed are remembered (a bounded set), so the common request costs one set lookup.
    """

    _REMEMBERED = 256  # allowed Host values kept; wildcard patterns admit any number of names

    def __init__(
        self, app: ASGIApp, *, allowed_hosts: Sequence[str], problems: Problems = DEFAULT_PROBLEMS
    ) -> None:
        self.app = app
        self.allowed_hosts = [pattern.lower() for pattern in allowed_hosts]
        self.problems = problems
        self.allowed_values: set[bytes] = set()

    def _allowed(self, value: bytes) -> bool:
        if value in self.allowed_values:
            return True
        if not host_allowed(host_name(value.decode("latin-1")), self.allowed_hosts):
            return False
        if len(self.allowed_values) < self._REMEMBERED:
            self.allowed_values.add(value)
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        value = b""
        for name, header in scope["headers"]:
            if name == b"host":
                value = header
                break
        if self._allowed(value) or get_route_path(scope).startswith(HOST_EXEMPT_PREFIX):
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = self.problems.response(
            get_route_path(scope),
            400,
            "The Host header names no host this service answers to (ALLOWED_HOSTS)",
            slug="host-not-allowed",
        )
        await response(scope, receive, send)


_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeadersMiddleware:
    """Add `X-Content-Type-Options: nosniff` everywhere and `Cache-Control: no-store` where it is due.

    No-store goes on every answer to a request that carries a token (Authorization) and on every
    answer to a write (token responses included), unless the route chose its own Cache-Control.
    Cookie-authenticated pages say it themselves (the admin site does), so that static files under
    a cookie stay cacheable. A 401 with pgbe's default challenge names the accepted schemes instead.
    """

    def __init__(self, app: ASGIApp, *, schemes: Sequence[str] = (DEFAULT_CHALLENGE,)) -> None:
        self.app = app
        self.challenge = ", ".join(schemes).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = scope["method"] not in SAFE_METHODS
        if not private:
            for name, _ in scope["headers"]:
                if name == b"authorization":
                    private = True
                    break

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._secured(message, private)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _secured(self, message: Message, private: bool) -> list[tuple[bytes, bytes]]:
        """Return the response's headers with the security headers it lacks (names are lower case in ASGI)."""
        headers = list(message.get("headers", ()))
        nosniff = cached = False
        challenge = -1
        for i, (name, _) in enumerate(headers):
            if name == b"x-content-type-options":
                nosniff = True
            elif name == b"cache-control":
                cached = True
            elif name == b"www-authenticate" and challenge < 0:
                challenge = i
        if not nosniff:
            headers.append(_NOSNIFF)
        if private and not cached:
            headers.append(_NO_STORE)
        if (
            message["status"] == 401
            and challenge >= 0
            and headers[challenge][1] == DEFAULT_CHALLENGE.encode("latin-1")
        ):
            headers[challenge] = (b"www-authenticate", self.challenge)
        return headers


__all__ = ["SecurityHeadersMiddleware", "TrustedHostMiddleware", "host_allowed", "host_name"]
