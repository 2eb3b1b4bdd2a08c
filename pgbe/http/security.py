"""Security layers of every response: allowed Host names, nosniff, no-store, the 401 challenge."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

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

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine: an allowed request is the inner app's own awaitable (see pgbe/stack.py).
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            return self.app(scope, receive, send)
        value = b""
        for name, header in scope["headers"]:
            if name == b"host":
                value = header
                break
        if self._allowed(value) or get_route_path(scope).startswith(HOST_EXEMPT_PREFIX):
            return self.app(scope, receive, send)
        return self._refuse(kind, scope, receive, send)

    async def _refuse(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
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
_DEFAULT_CHALLENGE = DEFAULT_CHALLENGE.encode("latin-1")


class SecurityHeaders:
    """The security headers a response lacks: nosniff always, no-store where due, the 401 challenge.

    No-store goes on every answer to a request that carries a token (Authorization) and on every
    answer to a write (token responses included), unless the route chose its own Cache-Control.
    Cookie-authenticated pages say it themselves (the admin site does), so that static files under
    a cookie stay cacheable. A 401 with pgbe's default challenge names the accepted schemes instead.
    """

    def __init__(self, *, schemes: Sequence[str] = (DEFAULT_CHALLENGE,)) -> None:
        self.challenge = ", ".join(schemes).encode("latin-1")

    def private(self, scope: Scope) -> bool:
        """Tell whether the answer to the request of `scope` must not be stored (a write, or a token)."""
        if scope["method"] not in SAFE_METHODS:
            return True
        for name, _ in scope["headers"]:  # noqa: SIM110 - a loop: any() would make a generator per request
            if name == b"authorization":
                return True
        return False

    def add(self, headers: list[tuple[bytes, bytes]], status: int, private: bool) -> None:
        """Add to a response's `headers` (names in lower case, as in ASGI) the security headers it lacks."""
        present = dict(headers)  # one pass in C: the common response has none of the three
        if b"x-content-type-options" not in present:
            headers.append(_NOSNIFF)
        if private and b"cache-control" not in present:
            headers.append(_NO_STORE)
        if status == 401 and b"www-authenticate" in present:
            for i, (name, value) in enumerate(headers):
                if name == b"www-authenticate":  # the first challenge: pgbe's default names the schemes
                    if value == _DEFAULT_CHALLENGE:
                        headers[i] = (b"www-authenticate", self.challenge)
                    break


class SecurityHeadersMiddleware:
    """Add the security headers each response lacks (`SecurityHeaders`).

    In the stack of `create_app` the observability layer right outside adds them in its own send
    wrapper instead (`pgbe.stack`), one wrapper fewer per request; this layer serves other stacks.
    """

    def __init__(self, app: ASGIApp, *, schemes: Sequence[str] = (DEFAULT_CHALLENGE,)) -> None:
        self.app = app
        self.headers = SecurityHeaders(schemes=schemes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = self.headers.private(scope)
        add = self.headers.add

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                add(headers, message["status"], private)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = [
    "SecurityHeaders",
    "SecurityHeadersMiddleware",
    "TrustedHostMiddleware",
    "host_allowed",
    "host_name",
]
