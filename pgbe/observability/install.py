"""Wire logs, metrics, traces, error reports, CORS and compression into an application from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from pgbe.http.compression import CompressionMiddleware
from pgbe.observability import sql
from pgbe.observability.logs import configure_logging, resolve_format
from pgbe.observability.middleware import ObservabilityMiddleware

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pgbe.db.database import Database
    from pgbe.settings import PgbeSettings

# Headers a browser may read from a cross-origin response: what the generated routes send.
EXPOSED_HEADERS = ["ETag", "Location", "Link", "X-Request-ID", "X-Min-LSN", "Retry-After"]


def http_middleware(settings: PgbeSettings, database: Database) -> list[Middleware]:
    """Return pgbe's operations middleware, outermost first: observability, CORS, compression.

    The observability middleware should be the outermost user middleware, so that it sees every
    request and its final status; CORS and compression apply to every route, generated ones included.
    `create_app` places each one by name (`pgbe.stack.LAYERS`).
    """
    stack = [
        observability_middleware(settings, database),
        cors_middleware(settings),
        compression_middleware(settings),
    ]
    return [middleware for middleware in stack if middleware is not None]


def observability_middleware(settings: PgbeSettings, database: Database) -> Middleware:
    """Return the middleware of request ids, access lines, metrics and traces."""
    from pgbe.observability.metrics import HttpMetrics
    from pgbe.observability.pools import PoolSampler

    tracer = None
    if settings.tracing_enabled:
        from pgbe.observability.tracing import configure_tracing

        tracer = configure_tracing(database, service_name=settings.project_name)
    return Middleware(
        ObservabilityMiddleware,
        access_log=settings.access_log,
        metrics=HttpMetrics() if settings.metrics_enabled else None,
        tracer=tracer,
        sampler=PoolSampler(database) if settings.metrics_enabled else None,
    )


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


def compression_middleware(settings: PgbeSettings) -> Middleware | None:
    """Return the gzip middleware, or None when compression is off."""
    if not settings.gzip_min_bytes:
        return None
    return Middleware(CompressionMiddleware, minimum_size=settings.gzip_min_bytes)


def configure_process(settings: PgbeSettings) -> None:
    """Set up what belongs to the process: log format and level, SQL counting, Sentry."""
    log_format = resolve_format(settings.log_format, development=settings.is_development)
    configure_logging(log_format, level=settings.log_level, access_log=settings.access_log)
    sql.configure(slow_ms=settings.slow_sql_ms)
    if settings.sentry_dsn is not None:
        from pgbe.observability.reports import configure_sentry

        configure_sentry(
            settings.sentry_dsn.get_secret_value(),
            environment=settings.environment,
            traces_sample_rate=settings.sentry_traces_sample_rate,
        )


def install(app: FastAPI, *, settings: PgbeSettings, database: Database) -> None:
    """Configure the process and add pgbe's operations middleware (outermost) and `/metrics` to `app`.

    Call it after every other `add_middleware`, so that its middleware wrap all the others.
    """
    configure_process(settings)
    for middleware in reversed(http_middleware(settings, database)):
        app.user_middleware.insert(0, middleware)
    install_metrics_route(app, settings)


def install_metrics_route(app: FastAPI, settings: PgbeSettings) -> None:
    """Add `GET /metrics` (bearer METRICS_TOKEN) when metrics are on and a token is set."""
    if settings.metrics_enabled and settings.metrics_token is not None:
        from pgbe.observability.metrics import metrics_endpoint

        endpoint = metrics_endpoint(settings.metrics_token.get_secret_value())
        app.add_route("/metrics", endpoint, methods=["GET"], include_in_schema=False)
