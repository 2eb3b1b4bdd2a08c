"""The `api` fixture on a mixed app: generated, sync `get_db` and async `get_async_db` routes share one
transaction per test, rolled back when it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.config.database import database, get_async_db, get_db, get_read_db
from app.config.settings import get_settings
from app.controllers.category import category_controller
from app.models import Category
from app.schemas.category import CategoryCreate, CategoryRead
from pgbe.db.database import libpq_dsn
from pgbe.errors import ConflictError
from pgbe.http.problems import install_problem_handlers
from pgbe.resources import Permissions, Resource, ResourceRegistry, register
from pgbe.testing.api import ApiClient, rolled_back_client


def sync_names(db: Session = Depends(get_db)) -> list[str]:
    """A hand-written sync route: the category names, through the ORM."""
    return list(db.scalars(select(Category.name).order_by(Category.name)))


def sync_read_names(db: Session = Depends(get_read_db)) -> list[str]:
    """The same through `get_read_db`."""
    return list(db.scalars(select(Category.name).order_by(Category.name)))


async def async_names(db: AsyncSession = Depends(get_async_db)) -> list[str]:
    """A hand-written async route on the async ORM."""
    return list((await db.scalars(select(Category.name).order_by(Category.name))).all())


def sync_create(body: CategoryCreate, db: Session = Depends(get_db)) -> CategoryRead:
    """Create a category through the controller (it commits)."""
    return CategoryRead.model_validate(category_controller.create(db, obj_in=body))


async def async_create(body: CategoryCreate, db: AsyncSession = Depends(get_async_db)) -> dict[str, int]:
    """Create a category on the async ORM and commit."""
    category = Category(name=body.name)
    db.add(category)
    await db.commit()
    return {"id": category.id}


def sync_create_then_fail(body: CategoryCreate, db: Session = Depends(get_db)) -> None:
    """Write a category, flush it, then fail before committing: nothing of it may stay."""
    db.add(Category(name=body.name))
    db.flush()
    raise ConflictError("refused after the flush")


def mixed_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_api_route("/sync/names", sync_names)
    app.add_api_route("/sync/read-names", sync_read_names)
    app.add_api_route("/async/names", async_names)
    app.add_api_route("/sync/shelves", sync_create, methods=["POST"], status_code=201)
    app.add_api_route("/async/shelves", async_create, methods=["POST"], status_code=201)
    app.add_api_route("/sync/failing", sync_create_then_fail, methods=["POST"])
    shelves = Resource(
        Category,
        read=CategoryRead,
        create=CategoryCreate,
        path="/shelves",
        permissions=Permissions(create=lambda principal: None),
    )
    register(app, shelves, registry=ResourceRegistry(database, get_settings()))
    return app


@pytest.fixture
async def mixed() -> AsyncIterator[ApiClient]:
    async with rolled_back_client(mixed_app(), database) as client:
        yield client


async def _names(client: ApiClient, path: str) -> list[str]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    names: list[str] = response.json()
    return names


async def test_a_generated_write_is_seen_by_sync_and_async_routes(mixed: ApiClient) -> None:
    created = await mixed.post("/shelves", json={"name": "Mixed generated"})
    assert created.status_code == 201, created.text
    assert "Mixed generated" in await _names(mixed, "/sync/names")
    assert "Mixed generated" in await _names(mixed, "/sync/read-names")
    assert "Mixed generated" in await _names(mixed, "/async/names")


async def test_session_writes_are_seen_by_generated_routes_and_each_other(mixed: ApiClient) -> None:
    by_sync = await mixed.post("/sync/shelves", json={"name": "Mixed sync"})
    assert by_sync.status_code == 201, by_sync.text
    by_async = await mixed.post("/async/shelves", json={"name": "Mixed async"})
    assert by_async.status_code == 201, by_async.text
    for created, name in ((by_sync, "Mixed sync"), (by_async, "Mixed async")):
        one = await mixed.get(f"/shelves/{created.json()['id']}")
        assert one.status_code == 200, one.text
        assert one.json()["name"] == name
    assert {"Mixed sync", "Mixed async"} <= set(await _names(mixed, "/async/names"))
    assert {"Mixed sync", "Mixed async"} <= set(await _names(mixed, "/sync/names"))
    names = await mixed.conn.fetch("SELECT name FROM categories WHERE name LIKE 'Mixed %'")
    assert {r["name"] for r in names} == {"Mixed sync", "Mixed async"}


async def test_a_failed_sync_request_is_undone_alone(mixed: ApiClient) -> None:
    kept = await mixed.post("/sync/shelves", json={"name": "Mixed kept"})
    assert kept.status_code == 201
    failed = await mixed.post("/sync/failing", json={"name": "Mixed flushed"})
    assert failed.status_code == 409
    names = await _names(mixed, "/sync/names")
    assert "Mixed kept" in names
    assert "Mixed flushed" not in names
    # a unique violation on the session's path is a 409 and leaves the test's transaction usable
    again = await mixed.post("/sync/shelves", json={"name": "Mixed kept"})
    assert again.status_code == 409, again.text
    assert (await mixed.post("/shelves", json={"name": "Mixed after"})).status_code == 201


async def test_controller_work_in_the_test_is_seen_by_every_route(mixed: ApiClient) -> None:
    made = await mixed.run_sync(
        lambda db: category_controller.create(db, obj_in={"name": "Mixed by the test"}).id
    )
    one = await mixed.get(f"/shelves/{made}")
    assert one.status_code == 200, one.text
    assert "Mixed by the test" in await _names(mixed, "/sync/names")
    assert "Mixed by the test" in await _names(mixed, "/async/names")


async def test_queries_counts_session_statements_too(mixed: ApiClient) -> None:
    await _names(mixed, "/sync/names")
    mixed.queries.reset()
    await _names(mixed, "/sync/names")
    assert mixed.queries.count == 1
    assert "FROM categories" in mixed.queries.statements[0]


async def test_nothing_written_by_any_route_outlives_the_client() -> None:
    app = mixed_app()
    async with rolled_back_client(app, database) as client:
        assert (await client.post("/shelves", json={"name": "Leak generated"})).status_code == 201
        assert (await client.post("/sync/shelves", json={"name": "Leak sync"})).status_code == 201
        assert (await client.post("/async/shelves", json={"name": "Leak async"})).status_code == 201
        await client.run_sync(lambda db: category_controller.create(db, obj_in={"name": "Leak test"}))
    outside = await asyncpg.connect(libpq_dsn(database.url))
    try:
        assert await outside.fetchval("SELECT count(*) FROM categories WHERE name LIKE 'Leak %'") == 0
    finally:
        await outside.close()
    # and the app's own pools, used again after the client, work as before
    async with rolled_back_client(app, database) as client:
        assert "Leak sync" not in await _names(client, "/sync/names")


async def test_the_api_fixture_shares_its_transaction_with_get_db_routes(api: ApiClient) -> None:
    await api.conn.execute("INSERT INTO categories (name) VALUES ('Mixed fixture')")
    made = await api.conn.fetchval("SELECT id FROM categories WHERE name = 'Mixed fixture'")
    await api.conn.execute(
        "INSERT INTO products (name, price, category_id) VALUES ('Mixed product', 3, $1)", made
    )
    listed = await api.get("/items/")
    assert listed.status_code == 200, listed.text
    assert "Mixed product" in {p["name"] for p in listed.json()}
