"""Error reports: an unhandled error reaches Sentry with its request id and without secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI, Request
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from pgbe.http.problems import install_problem_handlers
from pgbe.observability.middleware import ObservabilityMiddleware
from pgbe.observability.reports import configure_sentry

PASSWORD = "hunter2-very-secret"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.e30.not-a-real-signature"


class CapturingTransport(Transport):
    """Keeps the envelopes Sentry would send."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        return [item.payload.json for e in self.envelopes for item in e.items if item.type == "event"]


@pytest.fixture
def transport() -> Iterator[CapturingTransport]:
    capture = CapturingTransport()
    configure_sentry("https://public@sentry.invalid/1", environment="test", transport=capture)
    try:
        yield capture
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/orders")
    async def create_order(request: Request) -> None:
        body = await request.json()
        raise RuntimeError(f"card declined for order {body['order']}")

    app.add_middleware(ObservabilityMiddleware, access_log=True)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_unhandled_error_reported_with_request_id_and_no_secrets(
    client: httpx.AsyncClient, transport: CapturingTransport
) -> None:
    response = await client.post(
        f"/orders?token={TOKEN}",
        json={"order": 7, "password": PASSWORD},
        headers={"Authorization": f"Bearer {TOKEN}", "Cookie": f"session={TOKEN}", "X-Request-ID": "err-1"},
    )
    sentry_sdk.flush()

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "err-1"
    assert response.json()["request_id"] == "err-1"
    assert "card declined" not in response.text
    [event] = transport.events()
    assert event["tags"]["request_id"] == "err-1"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "card declined for order 7"
    raw = b"".join(e.serialize() for e in transport.envelopes)
    assert PASSWORD.encode() not in raw
    assert TOKEN.encode() not in raw
    assert b'"request"' not in raw
    assert b'"vars"' not in raw


async def test_handled_client_error_is_not_reported(
    client: httpx.AsyncClient, transport: CapturingTransport
) -> None:
    response = await client.get("/orders")
    sentry_sdk.flush()

    assert response.status_code == 405
    assert transport.events() == []
