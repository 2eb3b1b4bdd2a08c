"""The fast path's JSON equals the Read schema's serialization of the same rows, for every resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from app.schemas.category import CategoryRead
from app.schemas.product import ProductRead
from app.schemas.profile import ProfileRead
from app.schemas.tag import TagRead
from app.schemas.user import UserRead
from pgbe.testing.api import ApiClient

Bearer = Callable[[int, str], dict[str, str]]


@pytest.fixture
async def rows(api: ApiClient) -> None:
    """One or more rows of every example table, with whole-second and trailing-zero timestamps."""
    conn = api.conn
    category = await conn.fetchval(
        "INSERT INTO categories (name, description) VALUES ('C', 'd') RETURNING id"
    )
    await conn.execute("INSERT INTO categories (name) VALUES ('Empty')")
    tags = [await conn.fetchval("INSERT INTO tags (name) VALUES ($1) RETURNING id", n) for n in ("x", "y")]
    product = await conn.fetchval(
        "INSERT INTO products (name, price, category_id, sku) VALUES ('P', 5, $1, 'S') RETURNING id", category
    )
    await conn.execute("INSERT INTO products (name, price, description) VALUES ('Q', 0, 'ü \" \\ ')")
    await conn.execute("INSERT INTO product_tags SELECT $1, unnest($2::int[])", product, tags)
    user = await conn.fetchval(
        "INSERT INTO users (email, first_name, last_name, full_name, hashed_password, role)"
        " VALUES ('a@example.com', 'A', 'B', 'A B', 'not-a-hash', 'staff') RETURNING id"
    )
    await conn.execute("INSERT INTO profiles (user_id, bio) VALUES ($1, 'hi')", user)
    await conn.execute("UPDATE categories SET updated_at = '2026-01-02 03:04:05+00' WHERE id = $1", category)
    await conn.execute("UPDATE products SET created_at = '2026-01-02 03:04:05.12+02' WHERE id = $1", product)


async def _expected(api: ApiClient, table: str, read: type[BaseModel]) -> list[dict[str, Any]]:
    records = await api.conn.fetch(f"SELECT * FROM {table} ORDER BY id")
    result = []
    for record in records:
        row = dict(record)
        if table == "products":
            category = await api.conn.fetchrow("SELECT * FROM categories WHERE id = $1", row["category_id"])
            tags = await api.conn.fetch(
                "SELECT t.* FROM tags t JOIN product_tags pt ON pt.tag_id = t.id"
                " WHERE pt.product_id = $1 ORDER BY t.id",
                row["id"],
            )
            row["category"] = dict(category) if category else None
            row["tags"] = [dict(t) for t in tags]
        result.append(read.model_validate(row).model_dump(mode="json"))
    return result


@pytest.mark.parametrize(
    ("path", "table", "read", "query"),
    [
        ("/categories", "categories", CategoryRead, ""),
        ("/tags", "tags", TagRead, ""),
        ("/products", "products", ProductRead, "include=category,tags"),
        ("/users", "users", UserRead, ""),
        ("/profiles", "profiles", ProfileRead, ""),
    ],
)
async def test_fast_path_json_equals_read_schema_serialization(
    api: ApiClient, rows: None, bearer: Bearer, path: str, table: str, read: type[BaseModel], query: str
) -> None:
    admin = bearer(1, "admin")
    listed = await api.get(f"{path}?sort=id&{query}", headers=admin)  # stores the admin's account first
    expected = await _expected(api, table, read)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == expected
    for row in expected:
        one = await api.get(f"{path}/{row['id']}?{query}" if query else f"{path}/{row['id']}", headers=admin)
        assert one.json() == row


async def test_fast_path_timestamps_use_pydantic_format(api: ApiClient, rows: None) -> None:
    categories = (await api.get("/categories?sort=id")).json()["items"]
    products = (await api.get("/products?sort=id")).json()["items"]
    assert categories[0]["updated_at"] == "2026-01-02T03:04:05Z"
    assert products[0]["created_at"] == "2026-01-02T01:04:05.120000Z"
