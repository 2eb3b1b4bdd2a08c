"""OpenTelemetry: the span tree of a generated request (fast lane) and of a hand-written sync route."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import app.main as app_main
from app.config.database import database
from pgbe.observability.middleware import ObservabilityMiddleware
from pgbe.observability.tracing import RequestTracer, configure_tracing

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"


@pytest.fixture(scope="module")
def traced() -> Iterator[tuple[RequestTracer, InMemorySpanExporter]]:
    """A tracer on an in-memory exporter, both database drivers instrumented for the module."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = configure_tracing(database, service_name="pgbe-test", provider=provider)
    try:
        yield tracer, exporter
    finally:
        AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
        SQLAlchemyInstrumentor().uninstrument()


@pytest.fixture
async def client(traced: tuple[RequestTracer, InMemorySpanExporter]) -> AsyncIterator[httpx.AsyncClient]:
    tracer, exporter = traced
    exporter.clear()
    app = ObservabilityMiddleware(app_main.app, access_log=False, tracer=tracer)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def _server_span(spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    [server] = [s for s in spans if s.kind == SpanKind.SERVER]
    return server


async def test_generated_request_span_continues_trace_with_statement_child(
    client: httpx.AsyncClient, traced: tuple[RequestTracer, InMemorySpanExporter]
) -> None:
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"

    response = await client.get("/products/2000000001?include=category", headers={"traceparent": traceparent})

    assert response.status_code == 404
    spans = traced[1].get_finished_spans()
    server = _server_span(spans)
    assert server.name == "GET /products/{id}"
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/products/{id}"
    assert server.attributes["http.response.status_code"] == 404
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == PARENT_ID
    statements = [s for s in spans if s.kind == SpanKind.CLIENT and s.parent is not None]
    selects = [s for s in statements if "FROM products" in str((s.attributes or {}).get("db.statement", ""))]
    assert selects, [s.name for s in spans]
    for span in selects:
        assert span.parent is not None
        assert span.parent.span_id == server.context.span_id
        assert span.context.trace_id == server.context.trace_id


async def test_sync_route_sqlalchemy_statements_are_children_of_request_span(
    client: httpx.AsyncClient, traced: tuple[RequestTracer, InMemorySpanExporter]
) -> None:
    response = await client.get("/items/")

    assert response.status_code == 200
    spans = traced[1].get_finished_spans()
    server = _server_span(spans)
    assert server.name == "GET /items/"
    children = [s for s in spans if s.parent is not None and s.parent.span_id == server.context.span_id]
    assert any(s.kind == SpanKind.CLIENT for s in children), [(s.name, s.kind) for s in spans]
    assert server.parent is None  # no traceparent sent: a new trace


async def test_server_error_span_has_error_status(
    client: httpx.AsyncClient, traced: tuple[RequestTracer, InMemorySpanExporter]
) -> None:
    response = await client.get("/products?sort=nope")

    assert response.status_code == 422
    server = _server_span(traced[1].get_finished_spans())
    assert server.name == "GET /products"
    assert server.status.is_ok or server.status.is_unset  # a client error is not the server's


async def test_one_server_span_per_request_when_the_process_has_a_global_provider(
    client: httpx.AsyncClient,
    traced: tuple[RequestTracer, InMemorySpanExporter],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # FastAPI's own telemetry layer (0.165+) would open a second server span from the global provider.
    exporter = traced[1]
    global_provider = TracerProvider()
    global_provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: global_provider)

    response = await client.get("/products/2000000001")

    assert response.status_code == 404
    servers = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert [s.name for s in servers] == ["GET /products/{id}"]
