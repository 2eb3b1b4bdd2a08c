"""A database that accepts no writes (SQLSTATE 25006, a standby after failover) is a 503."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy.engine import make_url

from pgbe.db.database import Database
from pgbe.errors import ServiceUnavailableError
from pgbe.settings import PgbeSettings
from pgbe.testing.api import ApiClient
from tests.auth_fixtures import Bearer, login, make_user


async def _read_only(api: ApiClient) -> None:
    await api.get("/health/live")  # stores the bearer fixture's session first
    await api.conn.execute("SET LOCAL transaction_read_only = on")  # what a standby answers writes with


async def test_write_on_read_only_database_returns_503_with_retry_after(
    api: ApiClient, bearer: Bearer
) -> None:
    headers = bearer(1, "staff")
    await _read_only(api)
    response = await api.post("/categories", json={"name": "Books"}, headers=headers)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/problem+json"
    assert (await api.get("/categories", headers=headers)).status_code == 200  # reads go on


async def test_sign_in_on_read_only_database_returns_503(api: ApiClient) -> None:
    await make_user(api.conn, "ro@example.com")
    await _read_only(api)
    response = await login(api, "ro@example.com")
    assert response.status_code == 503
    assert "retry-after" in response.headers


async def test_missing_database_is_logged_when_the_pool_cannot_open(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    missing = make_url(database_url).set(database=f"pgbe_missing_{uuid.uuid4().hex[:8]}")
    url = missing.render_as_string(hide_password=False)
    settings = PgbeSettings(environment="test", secret_key="k" * 40, database_url=url)
    database = Database(settings, url=url)
    with caplog.at_level(logging.ERROR, logger="pgbe.db.database"), pytest.raises(ServiceUnavailableError):
        await database.pool()
    await database.close()
    assert any("does not exist" in r.getMessage() for r in caplog.records)
