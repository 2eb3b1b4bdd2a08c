"""Liveness and readiness: /health/ready really queries the database and the schema revision."""

from __future__ import annotations

import socket

import httpx

from app.config.settings import get_settings
from app.models import BaseModel
from pgbe import create_app
from pgbe.db.database import Database
from pgbe.testing.api import ApiClient


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_health_live_answers_ok(api: ApiClient) -> None:
    response = await api.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_ready_on_migrated_database_answers_200(api: ApiClient) -> None:
    response = await api.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["schema"] == "ok"


async def test_health_ready_schema_behind_code_answers_503(api: ApiClient) -> None:
    await api.conn.execute("UPDATE alembic_version SET version_num = '0001'")

    response = await api.get("/health/ready")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "schema at ['0001']" in response.json()["detail"]


async def test_health_ready_database_unreachable_answers_503_problem() -> None:
    unreachable = Database(get_settings(), url=f"postgresql://postgres@127.0.0.1:{_closed_port()}/nowhere")
    application = create_app(settings=get_settings(), database=unreachable, models=BaseModel)
    transport = httpx.ASGITransport(app=application)

    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/health/ready")
        live = await client.get("/health/live")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "2"
    problem = response.json()
    assert problem["status"] == 503
    assert problem["type"].endswith("/unavailable")
    assert problem["detail"].startswith("Not ready: database:")
    assert live.status_code == 200  # liveness does not depend on the database
    await unreachable.close()
