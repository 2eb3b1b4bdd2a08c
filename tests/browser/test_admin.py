"""The admin site in a real browser: sign in as staff, create a product through the form, find it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command

from pgbe.auth.passwords import hash_password
from pgbe.migrations import alembic_config
from pgbe.testing.servers import AppServer

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "Staff-Password-42"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium; .ci/run does it)",
    ),
]


@pytest.fixture
def admin_database(scratch_database: str) -> str:
    """A migrated database of its own with a staff and a plain user and a category, committed."""
    command.upgrade(alembic_config(ROOT, url=scratch_database), "head")
    with psycopg.connect(scratch_database) as conn:
        for email, role in (("staff@example.com", "staff"), ("user@example.com", "user")):
            conn.execute(
                "INSERT INTO users (email, first_name, last_name, full_name, hashed_password, role)"
                " VALUES (%s, 'Sam', 'Staff', 'Sam Staff', %s, %s)",
                (email, hash_password(PASSWORD), role),
            )
        conn.execute("INSERT INTO categories (name) VALUES ('Garden')")
    return scratch_database


@pytest.fixture
def server(admin_database: str) -> Iterator[AppServer]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "PGBE_"))}
    env.update(DATABASE_URL=admin_database, ENVIRONMENT="test", SECRET_KEY="browser-test-" + "k" * 40)
    env.pop("DATABASE_REPLICA_URLS", None)
    app = AppServer(ROOT, env).start()
    try:
        yield app
    finally:
        app.stop()


def test_admin_staff_creates_product_through_form_and_finds_it(
    server: AppServer, admin_database: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    screenshot = tmp_path / "admin-products.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/admin/login")
            page.fill("input[name=username]", "staff@example.com")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.get_by_role("link", name="Products")).to_be_visible()
            # Staff manage the catalogue, not the accounts (the API's rule).
            expect(page.get_by_role("link", name="Users")).to_have_count(0)

            page.goto(f"{server.url}/admin/products/create")
            page.fill("input[name=name]", "Stainless Watering Can")
            page.fill("input[name=price]", "2490")
            page.fill("input[name=sku]", "GA-9001")
            page.select_option("select[name=category]", label="Garden")
            page.click("input[type=submit][value=Save], button[type=submit]:has-text('Save')")

            page.goto(f"{server.url}/admin/products/list?search=Watering")
            row = page.locator("tbody tr", has_text="Stainless Watering Can")
            expect(row).to_have_count(1)
            expect(row).to_contain_text("Garden")  # the related category, shown by its name
            page.screenshot(path=str(screenshot), full_page=True)

            users_page = page.goto(f"{server.url}/admin/users/list")
            assert users_page is not None
            assert users_page.status in (401, 403)
        finally:
            browser.close()

    with psycopg.connect(admin_database) as conn:
        row = conn.execute(
            "SELECT p.price, p.sku, c.name FROM products p JOIN categories c ON c.id = p.category_id"
            " WHERE p.name = 'Stainless Watering Can'"
        ).fetchone()
    assert row == (2490, "GA-9001", "Garden")
    assert screenshot.stat().st_size > 10_000
    print(f"admin screenshot: {screenshot}")  # noqa: T201 - the path is what the report needs


def test_admin_login_plain_user_refused_without_session_cookie(server: AppServer) -> None:
    import httpx

    response = httpx.post(
        f"{server.url}/admin/login",
        data={"username": "user@example.com", "password": PASSWORD},
        headers={"Origin": server.url},  # what the sign-in page makes a browser send
    )
    assert response.status_code == 400
    assert "pgbe_admin" not in response.cookies
