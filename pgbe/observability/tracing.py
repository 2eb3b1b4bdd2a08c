"""OpenTelemetry traces (extra `pgbe[tracing]`): a server span per request, a client span per statement.

Off by default (`TRACING_ENABLED`). The request span continues the caller's trace (W3C `traceparent`
and `tracestate`) and is named by method and route template once the route is known; asyncpg and
SQLAlchemy statements become its children through the OpenTelemetry instrumentations. Without a
tracer provider configured by the process (`opentelemetry-instrument`, or the project's own code),
pgbe sets up the SDK with an OTLP exporter configured by the standard `OTEL_*` variables.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.types import Scope

from pgbe.extras import MissingExtraError

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, TracerProvider

    from pgbe.db.database import Database

logger = logging.getLogger("pgbe.observability")
TRACER_NAME = "pgbe"


class RequestTracer:
    """Start and end the server span of each request."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        from opentelemetry import context, propagate, trace

        self.tracer = trace.get_tracer(TRACER_NAME, tracer_provider=provider)
        self.context = context
        self.propagate = propagate
        self.trace = trace

    def start(self, scope: Scope) -> tuple[Span, object]:
        """Start the span of the request in `scope` and make it current; return it and its token."""
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        parent: Context = self.propagate.extract(carrier)
        method = scope["method"]
        span = self.tracer.start_span(
            method,
            context=parent,
            kind=self.trace.SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
                "network.protocol.version": scope.get("http_version", "1.1"),
            },
        )
        token = self.context.attach(self.trace.set_span_in_context(span, parent))
        return span, token

    def finish(
        self,
        started: tuple[Span, object],
        scope: Scope,
        route: str | None,
        status: int,
        error: BaseException | None,
    ) -> None:
        """Name the span after its route, record the status (and error), end it and detach it."""
        span, token = started
        method = scope["method"]
        if route is not None:
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if error is not None:
            span.record_exception(error)
        if status >= 500 or error is not None:
            span.set_status(self.trace.Status(self.trace.StatusCode.ERROR))
        span.end()
        self.context.detach(token)  # type: ignore[arg-type]


def _default_provider(service_name: str) -> TracerProvider:
    """Return the process's tracer provider, setting up the SDK's (OTLP exporter) when there is none."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    current = trace.get_tracer_provider()
    if isinstance(current, SdkTracerProvider):
        return current
    provider = SdkTracerProvider(resource=Resource.create({"service.name": service_name}))
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        logger.warning("tracing on but no OTLP exporter installed: the 'tracing' extra brings it")
    else:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def configure_tracing(
    database: Database, *, service_name: str, provider: TracerProvider | None = None
) -> RequestTracer:
    """Instrument the database's drivers and return the tracer of the request spans.

    Raises:
        RuntimeError: the `tracing` extra is not installed.
    """
    try:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    except ImportError:
        raise MissingExtraError("tracing", "TRACING_ENABLED (OpenTelemetry traces)") from None
    provider = provider or _default_provider(service_name)
    asyncpg_instrumentor: Any = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if not asyncpg_instrumentor.is_instrumented_by_opentelemetry:
        asyncpg_instrumentor.instrument(tracer_provider=provider)
    engines = [database.engine, database.async_engine.sync_engine]
    engines += [database.replicas.sync_engine(r) for r in database.replicas.replicas]
    # The instrumentation declares SQLAlchemy < 2.1; it uses only engine events, which 2.1 keeps
    # (tests/integration/test_ops_tracing.py checks the spans on the SQLAlchemy pgbe runs on).
    SQLAlchemyInstrumentor().instrument(engines=engines, tracer_provider=provider, skip_dep_check=True)
    return RequestTracer(provider)
