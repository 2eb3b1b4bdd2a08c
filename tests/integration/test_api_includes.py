"""To-many includes of a list: aggregated once per page, equal to what GET one returns for each row."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from pydantic import Field

from app.config.database import database
from app.config.settings import get_settings
from app.models import Category, Tag
from app.schemas.category import CategoryRead
from app.schemas.product import ProductRead
from app.schemas.tag import TagRead
from pgbe.http.problems import install_problem_handlers
from pgbe.resources import Resource, ResourceRegistry, register
from pgbe.testing.api import ApiClient, rolled_back_client


class ShelfRead(CategoryRead):
    """A category with its products (one-to-many)."""

    products: list[ProductRead] | None = Field(default=None)


class LabelRead(TagRead):
    """A tag with its products (many-to-many, the other side of products.tags)."""

    products: list[ProductRead] | None = Field(default=None)


@pytest.fixture
async def api() -> AsyncIterator[ApiClient]:
    app = FastAPI()
    install_problem_handlers(app)
    shelves = Resource(Category, read=ShelfRead, path="/shelves", sort=["id", "name"], includes=["products"])
    labels = Resource(Tag, read=LabelRead, path="/labels", sort=["id", "name"], includes=["products"])
    register(app, shelves, labels, registry=ResourceRegistry(database, get_settings()))
    async with rolled_back_client(app, database) as client:
        yield client


@pytest.fixture
async def seeded(api: ApiClient) -> None:
    conn = api.conn
    books, empty, toys = [
        await conn.fetchval("INSERT INTO categories (name) VALUES ($1) RETURNING id", name)
        for name in ("Books", "Empty", "Toys")
    ]
    new, unused = [
        await conn.fetchval("INSERT INTO tags (name) VALUES ($1) RETURNING id", n) for n in ("new", "x")
    ]
    for name, category, tagged in [("Dune", books, True), ("Kite", toys, True), ("Emma", books, False)]:
        pid = await conn.fetchval(
            "INSERT INTO products (name, price, category_id) VALUES ($1, 1, $2) RETURNING id", name, category
        )
        if tagged:
            await conn.execute("INSERT INTO product_tags VALUES ($1, $2)", pid, new)
    del empty, unused
    api.queries.reset()


@pytest.mark.parametrize("path", ["/shelves", "/labels"])
async def test_list_to_many_include_equals_get_one_of_each_row(
    api: ApiClient, seeded: None, path: str
) -> None:
    listed = await api.get(f"{path}?include=products&sort=-name")
    assert listed.status_code == 200, listed.text
    assert api.queries.count == 1
    assert "GROUP BY" in api.queries.statements[0]  # the page's products in one pass, not one per row
    items = listed.json()["items"]
    assert [item["products"] == [] for item in items].count(True) == 1  # the empty one: [], not null
    for item in items:
        one = await api.get(f"{path}/{item['id']}?include=products")
        assert one.json() == item
        assert [p["id"] for p in item["products"]] == sorted(p["id"] for p in item["products"])


async def test_list_to_many_include_holds_each_rows_own_products(api: ApiClient, seeded: None) -> None:
    items = (await api.get("/shelves?include=products&sort=name")).json()["items"]
    names = {item["name"]: [p["name"] for p in item["products"]] for item in items}
    assert names == {"Books": ["Dune", "Emma"], "Empty": [], "Toys": ["Kite"]}
    labels = (await api.get("/labels?include=products&sort=name")).json()["items"]
    assert {label["name"]: [p["name"] for p in label["products"]] for label in labels} == {
        "new": ["Dune", "Kite"],
        "x": [],
    }


async def test_list_without_include_leaves_products_null(api: ApiClient, seeded: None) -> None:
    items = (await api.get("/shelves?limit=2")).json()["items"]
    assert [item["products"] for item in items] == [None, None]
