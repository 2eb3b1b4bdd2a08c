"""List features of generated resources over HTTP: filters, sort, pagination, includes; one statement each."""

from __future__ import annotations

from typing import Any

import pytest

from pgbe.testing.api import ApiClient

PRODUCTS = [
    # name, price, category, sku, tags
    ("Laptop", 1200, "Electronics", "L-1", ["new", "sale"]),
    ("Phone", 800, "Electronics", None, ["new"]),
    ("Cable 50%_off", 5, "Electronics", "C-1", []),
    ("Cable 50 off", 6, None, None, ["sale"]),
    ("Dune", 12, "Books", "B-1", ["classic"]),
    ("dune notes", 3, "Books", None, []),
]


@pytest.fixture
async def seeded(api: ApiClient) -> dict[str, int]:
    """Categories, tags and products inserted on the test's connection; name -> id."""
    ids: dict[str, int] = {}
    for name in ("Electronics", "Books"):
        ids[name] = await api.conn.fetchval("INSERT INTO categories (name) VALUES ($1) RETURNING id", name)
    for name in ("new", "sale", "classic"):
        ids[name] = await api.conn.fetchval("INSERT INTO tags (name) VALUES ($1) RETURNING id", name)
    for name, price, category, sku, tags in PRODUCTS:
        ids[name] = await api.conn.fetchval(
            "INSERT INTO products (name, price, category_id, sku) VALUES ($1, $2, $3, $4) RETURNING id",
            name,
            price,
            ids.get(category or ""),
            sku,
        )
        for tag in tags:
            await api.conn.execute("INSERT INTO product_tags VALUES ($1, $2)", ids[name], ids[tag])
    api.queries.reset()
    return ids


async def _list(api: ApiClient, query: str) -> dict[str, Any]:
    api.queries.reset()
    response = await api.get(f"/products?{query}")
    assert response.status_code == 200, response.text
    assert api.queries.count == 1, api.queries.statements
    body: dict[str, Any] = response.json()
    return body


async def _names(api: ApiClient, query: str) -> list[str]:
    return [p["name"] for p in (await _list(api, query))["items"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("price=12", ["Dune"]),
        ("price__ne=12&price__lt=10", ["Cable 50%_off", "Cable 50 off", "dune notes"]),
        ("price__gt=800", ["Laptop"]),
        ("price__gte=800", ["Laptop", "Phone"]),
        ("price__lte=5", ["Cable 50%_off", "dune notes"]),
        ("price__in=3,12,999", ["Dune", "dune notes"]),
        ("name__icontains=DUNE", ["Dune", "dune notes"]),
        ("name__startswith=Dune", ["Dune"]),
        ("name__contains=50%25_", ["Cable 50%_off"]),
        ("name__contains=_", ["Cable 50%_off"]),
        ("sku__isnull=true", ["Phone", "Cable 50 off", "dune notes"]),
        ("sku__isnull=false&price__gt=100", ["Laptop"]),
        ("category_id__isnull=true", ["Cable 50 off"]),
        ("category.name=Books", ["Dune", "dune notes"]),
        ("category.name__icontains=electr&price__lt=1000", ["Phone", "Cable 50%_off"]),
        ("tags.name=sale", ["Laptop", "Cable 50 off"]),
        ("tags.name__in=classic,new", ["Laptop", "Phone", "Dune"]),
    ],
)
async def test_list_products_filter_returns_matching_rows(
    api: ApiClient, seeded: dict[str, int], query: str, expected: list[str]
) -> None:
    body = await _list(api, f"{query}&sort=id")
    assert [p["name"] for p in body["items"]] == expected
    assert body["total"] == len(expected)


async def test_list_products_filter_on_category_id_uses_ids(api: ApiClient, seeded: dict[str, int]) -> None:
    assert await _names(api, f"category_id={seeded['Books']}") == ["Dune", "dune notes"]


async def test_list_products_sort_descending_then_ascending(api: ApiClient, seeded: dict[str, int]) -> None:
    await api.conn.execute("UPDATE products SET price = 12 WHERE name = 'Phone'")
    names = await _names(api, "sort=-price,name&limit=3")
    assert names == ["Laptop", "Dune", "Phone"]


async def test_list_products_sort_on_related_field(api: ApiClient, seeded: dict[str, int]) -> None:
    names = await _names(api, "sort=category.name,-price")
    assert names == [
        "Dune",
        "dune notes",
        "Laptop",
        "Phone",
        "Cable 50%_off",
        "Cable 50 off",
    ]  # no category last
    assert api.queries.count == 1
    descending = await _names(api, "sort=-category.name,name&limit=4")
    assert descending == ["Cable 50 off", "Cable 50%_off", "Laptop", "Phone"]  # and first when descending


async def test_list_products_sort_on_unlisted_related_field_returns_422(
    api: ApiClient, seeded: dict[str, int]
) -> None:
    response = await api.get("/products?sort=category.description")
    assert response.status_code == 422
    assert "category.name" in response.json()["detail"]


async def test_list_products_pagination_reports_total(api: ApiClient, seeded: dict[str, int]) -> None:
    body = await _list(api, "sort=price&skip=2&limit=2")
    assert [p["price"] for p in body["items"]] == [6, 12]
    assert (body["total"], body["skip"], body["limit"]) == (6, 2, 2)


async def test_list_products_skip_past_end_keeps_total(api: ApiClient, seeded: dict[str, int]) -> None:
    body = await _list(api, "skip=100")
    assert body["items"] == []
    assert body["total"] == 6


async def test_list_products_limit_zero_counts_only(api: ApiClient, seeded: dict[str, int]) -> None:
    body = await _list(api, "limit=0&price__gt=10")
    assert (body["items"], body["total"]) == ([], 3)


async def test_list_products_default_limit_from_settings(api: ApiClient, seeded: dict[str, int]) -> None:
    from app.config.settings import get_settings

    assert (await _list(api, ""))["limit"] == get_settings().page_default_limit


async def test_list_products_include_embeds_category_and_tags(api: ApiClient, seeded: dict[str, int]) -> None:
    body = await _list(api, "include=category,tags&sort=id")
    laptop, *_, cable_without_category = body["items"][:4]
    assert laptop["category"]["name"] == "Electronics"
    assert [t["name"] for t in laptop["tags"]] == ["new", "sale"]
    assert cable_without_category["category"] is None
    assert body["items"][2]["tags"] == []


async def test_list_products_without_include_leaves_relations_null(
    api: ApiClient, seeded: dict[str, int]
) -> None:
    item = (await _list(api, "limit=1"))["items"][0]
    assert (item["category"], item["tags"]) == (None, None)


async def test_list_products_hundred_with_includes_runs_one_statement(api: ApiClient) -> None:
    category = await api.conn.fetchval("INSERT INTO categories (name) VALUES ('Bulk') RETURNING id")
    tags = [
        await api.conn.fetchval("INSERT INTO tags (name) VALUES ($1) RETURNING id", f"t{i}") for i in range(3)
    ]
    await api.conn.execute(
        "INSERT INTO products (name, price, category_id)"
        " SELECT 'p' || i, i, $1 FROM generate_series(1, 120) i",
        category,
    )
    await api.conn.execute(
        "INSERT INTO product_tags SELECT p.id, t FROM products p, unnest($1::int[]) t", tags
    )
    body = await _list(api, "include=category,tags&limit=100")
    assert len(body["items"]) == 100
    assert body["total"] == 120
    assert all(len(p["tags"]) == 3 and p["category"]["id"] == category for p in body["items"])


async def test_get_product_with_includes_runs_one_statement(api: ApiClient, seeded: dict[str, int]) -> None:
    api.queries.reset()
    response = await api.get(f"/products/{seeded['Laptop']}?include=tags,category")
    assert response.status_code == 200
    assert response.json()["category"]["name"] == "Electronics"
    assert api.queries.count == 1


@pytest.mark.parametrize("path", ["/categories", "/tags"])
async def test_list_catalogue_resources_run_one_statement(
    api: ApiClient, seeded: dict[str, int], path: str
) -> None:
    api.queries.reset()
    response = await api.get(f"{path}?sort=-name&name__icontains=e")
    assert response.status_code == 200
    names = [row["name"] for row in response.json()["items"]]
    assert names == sorted(names, reverse=True)
    assert names
    assert api.queries.count == 1
