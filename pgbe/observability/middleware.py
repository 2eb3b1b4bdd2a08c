"""One ASGI middleware per application: request id, access log line, metrics and trace of each request.

It is the outermost user middleware, so it sees every request (generated routes answered by the fast
lane included, and requests refused by the middleware inside it) and the final status. Errors that
escape the application are counted as 500 and re-raised for the server error handler, which renders
them with the request id still set. It also runs the pool sampler for the lifespan of the application.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgbe.observability.context import RequestContext, open_request
from pgbe.observability.logs import DirectLine
from pgbe.observability.request_id import HEADER_KEY, accept_request_id

if TYPE_CHECKING:
    from pgbe.http.security import SecurityHeaders
    from pgbe.observability.metrics import HttpMetrics
    from pgbe.observability.pools import PoolSampler
    from pgbe.observability.tracing import RequestTracer

access_logger = logging.getLogger("pgbe.access")
_access_lines = DirectLine(access_logger)


def route_template(scope: Scope, root_path: str) -> str | None:
    """Return the template of the route that took the request (`/things/{id}`), None when none did."""
    route = scope.get("route")
    if route is None:
        return None
    path: str | None = getattr(route, "path_format", None) or getattr(route, "path", None)
    if path is None:
        return None
    mounted = scope.get("root_path", "")  # a mounted application's routes are relative to its mount
    return mounted[len(root_path) :] + path if mounted != root_path else path


class ObservabilityMiddleware:
    """Give each request an id; log, count and trace it when it ends."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        access_log: bool = True,
        metrics: HttpMetrics | None = None,
        tracer: RequestTracer | None = None,
        sampler: PoolSampler | None = None,
        security: SecurityHeaders | None = None,
    ) -> None:
        self.app = app
        # The security headers' layer folded into this one (`pgbe.stack`): added in the same wrapper
        # of `send`, before the request id, as that layer right inside would have.
        self.security = security
        self.access_log = access_log
        self.metrics = metrics
        self.tracer = tracer
        self.sampler = sampler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._request(scope, receive, send)
        elif scope["type"] == "lifespan" and self.sampler is not None:
            await self.app(scope, self._lifespan_receive(receive), send)
        else:
            await self.app(scope, receive, send)

    async def _request(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        raw_id = None
        for name, value in scope["headers"]:
            if name == HEADER_KEY:
                raw_id = value
                break
        context = open_request(accept_request_id(raw_id))
        echoed = (HEADER_KEY, context.request_id.encode())
        root_path = scope.get("root_path", "")
        status = 0
        span = self.tracer.start(scope) if self.tracer is not None else None
        security = self.security
        private = security is not None and security.private(scope)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if security is None:
                    message["headers"] = [*message.get("headers", ()), echoed]
                else:
                    headers = list(message.get("headers", ()))
                    security.add(headers, status, private)
                    headers.append(echoed)
                    message["headers"] = headers
            await send(message)

        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            error = exc
            raise
        finally:
            if not status:  # no response: the client went away (499, as nginx says), or an error
                status = 499 if error is None or isinstance(error, asyncio.CancelledError) else 500
            route = route_template(scope, root_path)
            seconds = time.perf_counter() - start
            if span is not None and self.tracer is not None:
                self.tracer.finish(span, scope, route, status, error)
            if self.metrics is not None:
                self.metrics.observe(scope["method"], route, status, seconds)
            if self.access_log:
                _log_request(scope, route, status, seconds, context, error)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        sampler = self.sampler
        assert sampler is not None

        async def lifespan_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                sampler.start()
            elif message["type"] == "lifespan.shutdown":
                await sampler.stop()
            return message

        return lifespan_receive


def _log_request(
    scope: Scope,
    route: str | None,
    status: int,
    seconds: float,
    context: RequestContext,
    error: BaseException | None,
) -> None:
    level = logging.ERROR if status >= 500 else logging.INFO
    if not access_logger.isEnabledFor(level):
        return
    method, path = scope["method"], scope["path"]
    client = scope.get("client")
    fields: dict[str, Any] = {
        "method": method,
        "route": route,
        "path": path,
        "status": status,
        "duration_ms": int(seconds * 1e6 + 0.5) / 1000,  # to the microsecond; round() costs twice as much
        "user_id": context.user_id,
        "sql_count": context.sql_count,
        "sql_ms": int(context.sql_seconds * 1e6 + 0.5) / 1000,
        "client": client[0] if client else None,
    }
    if error is not None:
        fields["error_type"] = type(error).__name__
    # Not through logger.info: no caller lookup, and no handler chain while pgbe's handler is alone.
    _access_lines.log(level, f"{method} {path} {status}", fields, context.request_id)
