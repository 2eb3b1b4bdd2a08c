"""Accounts from the admin site: a password field, checked against the policy and stored hashed."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from app.config.settings import get_settings
from pgbe.auth.passwords import verify_password
from pgbe.project import Project
from tests.admin_fixtures import ADMIN, BASE_URL, EMAILS, ORIGIN, admin_client
from tests.auth_fixtures import known_hash


def _form(**fields: str) -> dict[str, str]:
    base = {"email": EMAILS[1], "first_name": "Nia", "last_name": "Hire", "role": "user", "is_active": "y"}
    return {**base, **fields}


def _stored(database_url: str) -> tuple[str, str] | None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT role, hashed_password FROM users WHERE email = %s", (EMAILS[1],)
        ).fetchone()
    return (row[0], row[1]) if row is not None else None


async def test_admin_creates_user_with_password_stored_hashed(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    form = await admin.get("/admin/users/create")
    assert form.status_code == 200
    assert 'name="password"' in form.text
    assert 'name="hashed_password"' not in form.text
    response = await admin.post("/admin/users/create", data=_form(password="Fresh-Start-2026"))
    assert response.status_code in (302, 303), response.text
    stored = _stored(database_url)
    assert stored is not None
    assert stored[0] == "user"
    assert stored[1].startswith("$argon2")
    assert verify_password("Fresh-Start-2026", stored[1])[0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [({}, "needs a password"), ({"password": "short"}, "at least")],
    ids=["no password", "weak password"],
)
async def test_admin_create_user_without_a_good_password_is_refused(
    admin: httpx.AsyncClient, database_url: str, fields: dict[str, str], message: str
) -> None:
    response = await admin.post("/admin/users/create", data=_form(**fields))
    assert response.status_code == 400
    assert message in response.text
    assert _stored(database_url) is None


async def test_admin_sign_in_is_throttled_like_the_api(project: Project, admin_account: None) -> None:
    async with admin_client(project) as client:
        for _ in range(get_settings().login_max_failures):
            wrong = await client.post(
                "/admin/login", data={"username": ADMIN[0], "password": "Wrong-Guess-1"}
            )
            assert wrong.status_code == 400
        right = await client.post("/admin/login", data={"username": ADMIN[0], "password": ADMIN[1]})
        assert right.status_code == 400  # the account is locked for the window, even with its password
        assert (await client.get("/admin/users/list")).status_code in (302, 303)  # no session


async def test_admin_sign_in_refuses_a_plain_user(project: Project, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO users (email, first_name, last_name, full_name, hashed_password, role)"
            " VALUES (%s, 'Nia', 'Hire', 'Nia Hire', %s, 'user')",
            (EMAILS[1], known_hash(ADMIN[1])),
        )
    try:
        async with admin_client(project) as client:
            response = await client.post("/admin/login", data={"username": EMAILS[1], "password": ADMIN[1]})
            assert response.status_code == 400
    finally:
        with psycopg.connect(database_url) as conn:
            conn.execute("DELETE FROM users WHERE email = %s", (EMAILS[1],))


async def test_admin_edit_user_empty_password_keeps_the_hash(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    await admin.post("/admin/users/create", data=_form(password="Fresh-Start-2026"))
    before = _stored(database_url)
    assert before is not None
    with psycopg.connect(database_url) as conn:
        (user_id,) = conn.execute("SELECT id FROM users WHERE email = %s", (EMAILS[1],)).fetchone() or (0,)
    response = await admin.post(f"/admin/users/edit/{user_id}", data=_form(role="staff", password=""))
    assert response.status_code in (302, 303), response.text
    assert _stored(database_url) == ("staff", before[1])


@pytest.mark.parametrize("change", ["role = 'user'", "is_active = false"])
async def test_admin_session_ends_when_the_account_is_demoted_or_deactivated(
    admin: httpx.AsyncClient, database_url: str, change: str
) -> None:
    assert (await admin.get("/admin/users/list")).status_code == 200
    with psycopg.connect(database_url) as conn:
        conn.execute(f"UPDATE users SET {change} WHERE email = %s", (ADMIN[0],))
    response = await admin.get("/admin/users/list")
    assert response.status_code in (302, 303)
    assert "/admin/login" in response.headers["location"]


def _count(database_url: str, email: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM users WHERE lower(normalize(email, NFKC)) = lower(normalize(%s, NFKC))",
            (email,),
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("variant", ["NEW-HIRE@example.com", "\uff4eew-hire@example.com"])
async def test_admin_create_user_with_case_or_fullwidth_variant_of_email_is_refused(
    admin: httpx.AsyncClient, database_url: str, variant: str
) -> None:
    await admin.post("/admin/users/create", data=_form(password="Fresh-Start-2026"))
    response = await admin.post("/admin/users/create", data=_form(email=variant, password="Fresh-Start-2026"))
    assert response.status_code == 400
    assert _count(database_url, EMAILS[1]) == 1


async def test_admin_password_change_ends_the_users_sessions(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    await admin.post("/admin/users/create", data=_form(password="Fresh-Start-2026"))
    signed_in = await admin.post("/auth/token", data={"username": EMAILS[1], "password": "Fresh-Start-2026"})
    assert signed_in.status_code == 200
    tokens = signed_in.json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await admin.get("/auth/me", headers=headers)).status_code == 200
    with psycopg.connect(database_url) as conn:
        (user_id,) = conn.execute("SELECT id FROM users WHERE email = %s", (EMAILS[1],)).fetchone() or (0,)
    changed = await admin.post(f"/admin/users/edit/{user_id}", data=_form(password="Quite-New-2027"))
    assert changed.status_code in (302, 303), changed.text
    assert (await admin.get("/auth/me", headers=headers)).status_code == 401
    refreshed = await admin.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401


async def test_admin_logout_ends_the_session_on_the_server(admin: httpx.AsyncClient) -> None:
    cookie = admin.cookies.get("pgbe_admin")
    assert cookie is not None
    assert (await admin.get("/admin/users/list")).status_code == 200
    await admin.get("/admin/logout")
    admin.cookies.set("pgbe_admin", cookie, path="/admin")  # a copy kept from before the logout
    response = await admin.get("/admin/users/list")
    assert response.status_code in (302, 303)  # back to the sign-in page


async def test_admin_session_cookie_is_scoped_to_the_admin_site(
    project: Project, admin_account: None
) -> None:
    async with admin_client(project) as client:
        response = await client.post("/admin/login", data={"username": ADMIN[0], "password": ADMIN[1]})
    set_cookie = response.headers["set-cookie"]
    assert "pgbe_admin=" in set_cookie
    assert "path=/admin" in set_cookie.lower()
    assert "httponly" in set_cookie.lower()


async def test_admin_password_hash_waits_for_no_one_beyond_the_bound(
    admin: httpx.AsyncClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config.auth import auth

    monkeypatch.setattr(auth.hash_slots, "in_use", auth.hash_slots.size)  # every slot taken
    response = await admin.post("/admin/users/create", data=_form(password="Fresh-Start-2026"))
    assert response.status_code == 400
    assert "Too many password checks" in response.text
    assert _stored(database_url) is None


async def test_admin_password_follows_the_projects_policy(project: Project, admin_account: None) -> None:
    from fastapi import FastAPI

    from app.models import BaseModel
    from app.resources import RESOURCES
    from pgbe.admin import mount_admin
    from pgbe.auth.service import Auth

    database = project.database()
    settings = get_settings().model_copy(update={"password_min_length": 24})
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
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=ORIGIN) as client:
        signed_in = await client.post("/admin/login", data={"username": ADMIN[0], "password": ADMIN[1]})
        assert signed_in.status_code == 302
        response = await client.post("/admin/users/create", data=_form(password="Fresh-Start-2026"))
    assert response.status_code == 400
    assert "at least 24" in response.text
