"""The admin site under attack: forged cross-site writes, framing, a forged Host, malformed ids and searches.

Each refused attack is checked in the database too: nothing was written.
"""

from __future__ import annotations

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from app.config.settings import Settings
from app.models import BaseModel
from app.resources import RESOURCES
from pgbe.admin import mount_admin
from pgbe.auth.service import Auth
from pgbe.project import Project
from tests.admin_fixtures import ADMIN, BASE_URL, EMAILS, admin_client

NEW_USER = {
    "email": EMAILS[1],
    "first_name": "Nia",
    "last_name": "Hire",
    "role": "admin",
    "is_active": "y",
    "password": "Fresh-Start-2026",
}
# What a page of another site makes a browser send, and a request that says nothing of where it is from.
FOREIGN = {
    "another origin": {"Origin": "https://evil.example"},
    "a sibling site": {"Origin": "http://admin.test.evil", "Sec-Fetch-Site": "same-site"},
    "cross-site fetch metadata": {"Origin": BASE_URL, "Sec-Fetch-Site": "cross-site"},
    "an opaque origin": {"Origin": "null"},
    "a referer from another site": {"Origin": "", "Referer": "https://evil.example/page"},
    "no origin at all": {"Origin": ""},
}


def _without_empty(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if v}


def _users(database_url: str, email: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT role, hashed_password FROM users WHERE email = %s ORDER BY id", (email,)
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _user_id(database_url: str, email: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id FROM users WHERE email = %s", (email,)).fetchone()
    assert row is not None
    return int(row[0])


async def _post(
    client: httpx.AsyncClient, url: str, data: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    """POST a form with exactly `headers` as its provenance (the client's default Origin replaced)."""
    request = client.build_request("POST", url, data=data)
    del request.headers["origin"]
    request.headers.update(_without_empty(headers))
    return await client.send(request)


@pytest.mark.parametrize("headers", list(FOREIGN.values()), ids=list(FOREIGN))
async def test_admin_form_posted_from_another_site_is_refused_and_writes_nothing(
    admin: httpx.AsyncClient, database_url: str, headers: dict[str, str]
) -> None:
    response = await _post(admin, "/admin/users/create", NEW_USER, headers)
    assert response.status_code == 403
    assert "cross-site request forgery" in response.text
    assert _users(database_url, EMAILS[1]) == []


async def test_admin_password_set_by_a_forged_form_is_refused_and_the_hash_kept(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    admin_id = _user_id(database_url, ADMIN[0])
    before = _users(database_url, ADMIN[0])
    form = {"email": ADMIN[0], "first_name": "Ada", "last_name": "Admin", "role": "admin", "is_active": "y"}
    forged = await _post(
        admin,
        f"/admin/users/edit/{admin_id}",
        {**form, "password": "Attacker-Knows-1"},
        FOREIGN["another origin"],
    )
    assert forged.status_code == 403
    assert _users(database_url, ADMIN[0]) == before
    assert (await admin.get("/admin/users/list")).status_code == 200  # the admin's session lives on


async def test_admin_delete_from_another_site_is_refused_and_the_row_kept(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    created = await admin.post("/admin/users/create", data=NEW_USER)
    assert created.status_code == 302, created.text
    user_id = _user_id(database_url, EMAILS[1])
    request = admin.build_request("DELETE", f"/admin/users/delete?pks={user_id}")
    request.headers.update({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert (await admin.send(request)).status_code == 403
    assert len(_users(database_url, EMAILS[1])) == 1


async def test_admin_sign_in_form_posted_from_another_site_is_refused(
    project: Project, admin_account: None
) -> None:
    async with admin_client(project) as client:
        response = await _post(
            client, "/admin/login", {"username": ADMIN[0], "password": ADMIN[1]}, FOREIGN["another origin"]
        )
        assert response.status_code == 403
        assert "set-cookie" not in response.headers
        assert (await client.get("/admin/users/list")).status_code == 302  # no session


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": BASE_URL},
        {"Origin": "HTTP://TEST:80"},
        {"Origin": "", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "", "Referer": f"{BASE_URL}/admin/users/create"},
    ],
    ids=["origin", "origin in another spelling", "fetch metadata", "referer"],
)
async def test_admin_form_from_its_own_page_is_accepted(
    admin: httpx.AsyncClient, database_url: str, headers: dict[str, str]
) -> None:
    response = await _post(admin, "/admin/users/create", NEW_USER, headers)
    assert response.status_code == 302, response.text
    assert [role for role, _ in _users(database_url, EMAILS[1])] == ["admin"]


@pytest.mark.parametrize("path", ["/admin/login", "/admin/users/list", "/admin/no-such-page"])
async def test_admin_pages_cannot_be_framed(admin: httpx.AsyncClient, path: str) -> None:
    response = await admin.get(path)
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


async def test_admin_static_files_stay_cacheable(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/admin/users/list")
    stylesheet = next(
        part.split('"')[0] for part in page.text.split('href="')[1:] if part.split('"')[0].endswith(".css")
    )
    response = await admin.get(stylesheet)
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("cache-control", "")


async def test_admin_redirects_never_carry_a_forged_host(project: Project, admin_account: None) -> None:
    async with admin_client(project) as client:
        forged = {"Host": "evil.example", "Origin": "http://evil.example"}
        to_sign_in = await client.get("/admin/users/list", headers=forged)
        assert to_sign_in.status_code == 302
        assert to_sign_in.headers["location"] == "/admin/login"
        signed_in = await client.post(
            "/admin/login", data={"username": ADMIN[0], "password": ADMIN[1]}, headers=forged
        )
        assert signed_in.status_code == 302
        assert signed_in.headers["location"] == "/admin/"
        assert "evil.example" not in (await client.get("/admin/logout", headers=forged)).headers["location"]


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/edit/abc",
        "/admin/users/details/abc",
        "/admin/users/edit/2147483648",  # one past int4: PostgreSQL would refuse it
        "/admin/users/details/99999999999999999999999",
        "/admin/users/edit/-2147483649",
        "/admin/users/details/1%00",
    ],
)
async def test_admin_malformed_id_is_404_not_500(admin: httpx.AsyncClient, path: str) -> None:
    assert (await admin.get(path)).status_code == 404


async def test_admin_edit_posted_to_a_malformed_id_is_404_and_writes_nothing(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    response = await admin.post("/admin/users/edit/abc", data=NEW_USER)
    assert response.status_code == 404
    assert _users(database_url, EMAILS[1]) == []


@pytest.mark.parametrize("query", ["?pks=99999999999999999999", "?pks=abc", "?pks=", ""])
async def test_admin_delete_of_a_malformed_id_is_4xx(admin: httpx.AsyncClient, query: str) -> None:
    response = await admin.request("DELETE", f"/admin/users/delete{query}")
    assert response.status_code in (400, 404)


async def test_admin_search_with_nul_is_400(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/admin/users/list", params={"search": "ada\x00"})
    assert response.status_code == 400
    assert "NUL" in response.text
    assert (await admin.get("/admin/users/list", params={"search": "ada"})).status_code == 200


async def test_admin_cookie_is_secure_outside_development(project: Project, admin_account: None) -> None:
    database = project.database()
    settings = Settings(environment="production", secret_key="production-test-" + "k" * 40)
    app = FastAPI()
    mount_admin(
        app,
        base=BaseModel,
        session_maker=database.SessionLocal,
        settings=settings,
        auth=Auth(settings, database),
        resources=RESOURCES,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://admin.test") as client:
        response = await client.post(
            "/admin/login",
            data={"username": ADMIN[0], "password": ADMIN[1]},
            headers={"Origin": "https://admin.test"},
        )
    assert response.status_code == 302, response.text
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/admin" in cookie


LEAKS = ("[SQL", "INSERT INTO", "DELETE FROM", "UPDATE ", "psycopg", "$argon2", "sqlalche.me")


async def test_admin_duplicate_email_shows_a_message_without_sql_or_the_hash(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    assert (await admin.post("/admin/users/create", data=NEW_USER)).status_code == 302
    response = await admin.post("/admin/users/create", data={**NEW_USER, "email": EMAILS[1].upper()})
    assert response.status_code == 400
    assert "already exists" in response.text
    assert [leak for leak in LEAKS if leak in response.text] == []
    assert len(_users(database_url, EMAILS[1])) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"price": "99999999999"}, "out of range"), ({"name": "Lamp\x00"}, "malformed")],
    ids=["integer out of range", "NUL in text"],
)
async def test_admin_value_the_database_refuses_shows_no_sql(
    admin: httpx.AsyncClient, database_url: str, fields: dict[str, str], message: str
) -> None:
    response = await admin.post("/admin/products/create", data={"name": "Lamp", "price": "1", **fields})
    assert response.status_code == 400
    assert message in response.text
    assert [leak for leak in LEAKS if leak in response.text] == []
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM products WHERE name LIKE 'Lamp%%'").fetchone() == (0,)


async def test_admin_delete_of_a_referenced_row_shows_no_sql(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("INSERT INTO categories (name) VALUES ('Referenced') RETURNING id").fetchone()
        assert row is not None
        conn.execute("INSERT INTO products (name, price, category_id) VALUES ('Held', 1, %s)", (row[0],))
    try:
        response = await admin.request("DELETE", f"/admin/categories/delete?pks={row[0]}")
        assert "still+referenced" in response.text
        assert [leak for leak in ("SQL", "DELETE+FROM", "psycopg") if leak in response.text] == []
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT count(*) FROM categories WHERE id = %s", (row[0],)).fetchone() == (1,)
    finally:
        with psycopg.connect(database_url) as conn:
            conn.execute("DELETE FROM products WHERE category_id = %s", (row[0],))
            conn.execute("DELETE FROM categories WHERE id = %s", (row[0],))
