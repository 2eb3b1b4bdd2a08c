"""The middleware stack of every pgbe application: one ordered table of named layers, outermost first.

A feature that needs a middleware adds one row here, at the place its position argues for, with
a builder that reads what it needs from the `AppContext` and returns its `Middleware` (or None
when its settings turn it off). `create_app` builds the rows in order; the project's own middleware
come after them (inside), and the resource fast lane is always the innermost.

Why this order, outermost first (docs/architecture.md says the same):
- observability: sees every request and its final status, refused ones included, so that each has a
  request id, an access line and metrics.
- security_headers: nosniff and no-store on every response below it, refusals of the layers inside
  included; a 401 names the accepted authorization schemes.
- trusted_hosts: refuses a Host outside ALLOWED_HOSTS (400) before anything can reflect it into a URL.
- cors: answers preflights before any work, and adds its headers to every response below, errors
  included (a browser cannot read an error without them).
- compression: compresses what everything inside produced, generated and error bodies alike.
- cancel_on_disconnect: sees the client go away before the body limits and the app.
- body_limit: refuses oversized or slow bodies before the app reads them.
- read_your_writes: innermost of pgbe's layers, so that it sees each write's outcome (its status)
  and routes every read of the request, the project's middleware included. Left out when no
  replica is configured.

What a request costs in each layer: a layer that only adds response headers wraps `send`, and each
wrapper is a call per message, so the security headers are added by the observability layer's own
wrapper (`folded`), in the same order. A layer that leaves most requests alone (compression, trusted
hosts, cancel-on-disconnect, body limits) is not a coroutine: its `__call__` returns the inner app's
awaitable, so the task has one frame fewer to resume at every await of the request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.middleware import Middleware

from pgbe.http.compression import compression_middleware
from pgbe.http.cors import cors_middleware
from pgbe.http.disconnect import CancelOnDisconnectMiddleware
from pgbe.http.limits import BodyLimitMiddleware
from pgbe.http.problems import Problems
from pgbe.http.replicas import ReadYourWritesMiddleware
from pgbe.http.security import SecurityHeaders, SecurityHeadersMiddleware, TrustedHostMiddleware
from pgbe.observability.install import configure_process, install_metrics_route, observability_middleware
from pgbe.observability.middleware import ObservabilityMiddleware

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pgbe.auth.service import Auth
    from pgbe.db.database import Database
    from pgbe.settings import PgbeSettings


@dataclass(frozen=True)
class AppContext:
    """What `create_app` was given and built, for the layers and installers that wire an application."""

    settings: PgbeSettings
    database: Database
    problems: Problems
    root: Path
    auth: Auth | None = None


@dataclass(frozen=True)
class Layer:
    """One named middleware of the stack, and the builder that makes it from the application's context."""

    name: str
    build: Callable[[AppContext], Middleware | None]


def _trusted_hosts(ctx: AppContext) -> Middleware | None:
    hosts = ctx.settings.trusted_hosts
    if "*" in hosts:
        return None
    return Middleware(TrustedHostMiddleware, allowed_hosts=hosts, problems=ctx.problems)


def _read_your_writes(ctx: AppContext) -> Middleware | None:
    if not ctx.database.replicas:  # configured at start-up: without replicas every read is the primary's
        return None
    return Middleware(ReadYourWritesMiddleware, database=ctx.database, secure=not ctx.settings.is_development)


LAYERS: tuple[Layer, ...] = (
    Layer("observability", lambda ctx: observability_middleware(ctx.settings, ctx.database)),
    Layer(
        "security_headers",
        lambda ctx: Middleware(SecurityHeadersMiddleware, schemes=ctx.settings.auth_schemes),
    ),
    Layer("trusted_hosts", _trusted_hosts),
    Layer("cors", lambda ctx: cors_middleware(ctx.settings)),
    Layer("compression", lambda ctx: compression_middleware(ctx.settings)),
    Layer("cancel_on_disconnect", lambda _: Middleware(CancelOnDisconnectMiddleware)),
    Layer(
        "body_limit",
        lambda ctx: Middleware(
            BodyLimitMiddleware,
            max_body_bytes=ctx.settings.max_body_bytes,
            body_timeout=ctx.settings.http_body_timeout,
            problems=ctx.problems,
        ),
    ),
    Layer("read_your_writes", _read_your_writes),
)


def middleware_stack(ctx: AppContext, layers: tuple[Layer, ...] = LAYERS) -> list[Middleware]:
    """Return the middleware of `layers` that the settings turn on, outermost first."""
    return folded([middleware for layer in layers if (middleware := layer.build(ctx)) is not None])


def folded(stack: list[Middleware]) -> list[Middleware]:
    """Return `stack` with the security headers folded into the observability layer right outside them.

    Each layer that wraps `send` costs every response an extra call per message; these two only add
    headers, so one wrapper does both, in the same order (security headers, then the request id).
    """
    for i, (outer, inner) in enumerate(pairwise(stack)):
        outer_cls: Any = outer.cls
        inner_cls: Any = inner.cls
        if outer_cls is ObservabilityMiddleware and inner_cls is SecurityHeadersMiddleware:
            options: dict[str, Any] = dict(outer.kwargs)
            if "security" in options or inner.args:
                break
            schemes: dict[str, Any] = dict(inner.kwargs)
            options["security"] = SecurityHeaders(**schemes)
            stack[i : i + 2] = [Middleware(ObservabilityMiddleware, *outer.args, **options)]
            break
    return stack


__all__ = ["LAYERS", "AppContext", "Layer", "folded", "middleware_stack"]


def http_middleware(settings: PgbeSettings, database: Database) -> list[Middleware]:
    """Return the operations layers alone (observability, CORS, compression), outermost first."""
    stack = [
        observability_middleware(settings, database),
        cors_middleware(settings),
        compression_middleware(settings),
    ]
    return [middleware for middleware in stack if middleware is not None]


def install_operations(app: FastAPI, *, settings: PgbeSettings, database: Database) -> None:
    """For an application not made by `create_app`: the process set-up, the operations layers, `/metrics`.

    Call it after every other `add_middleware`, so that its middleware wrap all the others.
    """
    configure_process(settings)
    for middleware in reversed(http_middleware(settings, database)):
        app.user_middleware.insert(0, middleware)
    install_metrics_route(app, settings)
