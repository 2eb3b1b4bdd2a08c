"""Fixtures of the admin-site tests: a committed admin account and a browser-like client signed in as it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest

from pgbe.project import Project
from tests.auth_fixtures import PASSWORD, known_hash

ADMIN = ("admin-site@example.com", PASSWORD)
EMAILS = (ADMIN[0], "new-hire@example.com")
BASE_URL = "http://test"
ORIGIN = {"Origin": BASE_URL}  # what a browser sends with the admin site's own forms


@pytest.fixture
def admin_account(database_url: str) -> Iterator[None]:
    """An admin user committed to the run's database; every account the tests create is removed after."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO users (email, first_name, last_name, full_name, hashed_password, role)"
            " VALUES (%s, 'Ada', 'Admin', 'Ada Admin', %s, 'admin')",
            (ADMIN[0], known_hash(ADMIN[1])),
        )
    yield
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM users WHERE email = ANY(%s)", (list(EMAILS),))
        conn.execute("DELETE FROM login_throttles WHERE key LIKE 'account:%%' OR key LIKE 'client:%%'")


def admin_client(project: Project) -> httpx.AsyncClient:
    """A client of the application that sends the admin site's Origin, as a browser does on its pages."""
    app = project.load("app", "app.main:app")
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=ORIGIN)


@pytest.fixture
async def admin(project: Project, admin_account: None) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the admin site, signed in as an admin."""
    async with admin_client(project) as client:
        response = await client.post("/admin/login", data={"username": ADMIN[0], "password": ADMIN[1]})
        assert response.status_code in (302, 303), response.text
        yield client
