"""Set up logs, metrics, traces and error reports from settings: the process, the supervisor, the layer."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from starlette.middleware import Middleware

from pgbe.observability import sql
from pgbe.observability.logs import configure_logging, resolve_format
from pgbe.observability.middleware import ObservabilityMiddleware
from pgbe.observability.processes import prepare_multiprocess_dir

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pgbe.db.database import Database
    from pgbe.settings import PgbeSettings


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
    """Deprecated, kept for one release: `create_app` installs this; else `pgbe.stack.install_operations`."""
    warnings.warn(
        "pgbe.observability.install moved to pgbe.stack.install_operations", DeprecationWarning, stacklevel=2
    )
    from pgbe.stack import install_operations

    install_operations(app, settings=settings, database=database)


def http_middleware(settings: PgbeSettings, database: Database) -> list[Middleware]:
    """Deprecated, kept for one release: use `pgbe.stack.http_middleware`."""
    warnings.warn(
        "pgbe.observability.install.http_middleware moved to pgbe.stack", DeprecationWarning, stacklevel=2
    )
    from pgbe.stack import http_middleware as moved

    return moved(settings, database)


def install_metrics_route(app: FastAPI, settings: PgbeSettings) -> None:
    """Add `GET /metrics` (bearer METRICS_TOKEN) when metrics are on and a token is set."""
    if settings.metrics_enabled and settings.metrics_token is not None:
        from pgbe.observability.metrics import metrics_endpoint

        endpoint = metrics_endpoint(settings.metrics_token.get_secret_value())
        app.add_route("/metrics", endpoint, methods=["GET"], include_in_schema=False)


def prepare_server(settings: PgbeSettings, *, workers: int, host: str) -> None:
    """Set up the `pgbe run` supervisor: log lines in the workers' format, metrics shared by the workers."""
    log_format = resolve_format(settings.log_format, development=settings.is_development)
    configure_logging(log_format, level=settings.log_level, access_log=settings.access_log)
    if not settings.metrics_enabled:
        return
    prepare_multiprocess_dir(workers)  # before prometheus-client is first imported
    if settings.metrics_port is not None:
        from pgbe.observability.metrics import serve_metrics

        serve_metrics(settings.metrics_port, host)
