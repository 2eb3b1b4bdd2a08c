"""Request body limits: a size cap answered 413 and a receive deadline answered 408, before the app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from starlette._utils import get_route_path
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgbe.http.problems import DEFAULT_PROBLEMS, Problems


class BodyRejectedError(HTTPException):
    """The request body broke a limit; raised from `receive` so that the app stops reading it.

    An HTTPException because FastAPI re-raises those from its body parsing (any other error becomes
    a 400 there); the middleware answers the request itself either way.
    """


def _too_large(limit: int) -> BodyRejectedError:
    return BodyRejectedError(413, f"The request body is larger than {limit} bytes")


def _too_slow(seconds: float) -> BodyRejectedError:
    return BodyRejectedError(408, f"The request body was not received within {seconds:g} seconds")


class BodyLimitMiddleware:
    """Refuse bodies over `max_body_bytes` (413) and bodies not received within `body_timeout` (408).

    A declared Content-Length over the limit is refused before a byte of the body is read; a chunked
    body is counted as it streams and refused as soon as it passes the limit. The deadline covers the
    whole body, so a client trickling a byte at a time cannot hold the request open.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, body_timeout: float, problems: Problems = DEFAULT_PROBLEMS
    ) -> None:
        self.app = app
        self.problems = problems
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine: a request without a body is the inner app's own awaitable (pgbe/stack.py).
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        declared, chunked = _framing(scope)
        if declared is not None and declared > self.max_body_bytes:
            return _reject(self.problems, scope, receive, send, _too_large(self.max_body_bytes))
        if not declared and not chunked and scope.get("http_version") in _FRAMED_BY_HEADERS:
            return self.app(scope, receive, send)  # no body at all: nothing to count or to wait for
        return _LimitedRequest(self, scope, receive, send).run()


class _LimitedRequest:
    def __init__(self, limits: BodyLimitMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        self.limits = limits
        self.scope = scope
        self.raw_receive = receive
        self.raw_send = send
        self.received = 0
        self.body_complete = False
        self.deadline = asyncio.get_running_loop().time() + limits.body_timeout
        self.rejection: BodyRejectedError | None = None
        self.response_started = False

    async def run(self) -> None:
        try:
            await self.limits.app(self.scope, self.receive, self.send)
        except BodyRejectedError as exc:
            if exc is not self.rejection:
                raise
        if self.rejection is not None and not self.response_started:
            self.response_started = True
            await _reject(self.limits.problems, self.scope, self.raw_receive, self.raw_send, self.rejection)

    async def receive(self) -> Message:
        if self.rejection is not None:
            raise self.rejection
        if self.body_complete:
            return await self.raw_receive()
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self.raw_receive()
        except TimeoutError:
            self.rejection = _too_slow(self.limits.body_timeout)
            raise self.rejection from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limits.max_body_bytes:
                self.rejection = _too_large(self.limits.max_body_bytes)
                raise self.rejection
            self.body_complete = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.rejection is not None:
            return  # the app's own rendering of the rejection is replaced by ours
        if message["type"] == "http.response.start":
            self.response_started = True
        await self.raw_send(message)


# In HTTP/1.x a request has a body only if it declares a length or a chunked transfer coding.
_FRAMED_BY_HEADERS = frozenset({"1.0", "1.1"})


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """Return the declared Content-Length (None when absent or unreadable) and whether it is chunked."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                chunked = True  # unreadable: count the body as it comes
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


async def _reject(
    problems: Problems, scope: Scope, receive: Receive, send: Send, error: BodyRejectedError
) -> None:
    slug = "payload-too-large" if error.status_code == 413 else "timeout"
    # The rest of the body is never read, so the connection cannot carry another request.
    response = problems.response(
        get_route_path(scope), error.status_code, error.detail, slug=slug, headers={"connection": "close"}
    )
    await response(scope, receive, send)
