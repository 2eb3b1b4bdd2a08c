"""Generated catalogue resources over HTTP: each method of categories, products and tags."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pgbe.testing.api import ApiClient

Bearer = Callable[[int, str], dict[str, str]]


@pytest.fixture
def staff(bearer: Bearer) -> dict[str, str]:
    return bearer(1, "staff")


async def _category(api: ApiClient, staff: dict[str, str], name: str) -> dict:
    response = await api.post("/categories", json={"name": name}, headers=staff)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_category_as_staff_returns_201_with_location(
    api: ApiClient, staff: dict[str, str]
) -> None:
    response = await api.post("/categories", json={"name": "Books", "description": "Paper"}, headers=staff)
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Books"
    assert body["version"] == 1
    assert response.headers["location"] == f"/categories/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert await api.conn.fetchval("SELECT count(*) FROM categories WHERE name = 'Books'") == 1


async def test_create_category_anonymous_returns_401(api: ApiClient) -> None:
    response = await api.post("/categories", json={"name": "Books"})
    assert response.status_code == 401
    assert await api.conn.fetchval("SELECT count(*) FROM categories") == 0


async def test_create_category_as_user_returns_403(api: ApiClient, bearer: Bearer) -> None:
    response = await api.post("/categories", json={"name": "Books"}, headers=bearer(5, "user"))
    assert response.status_code == 403
    assert await api.conn.fetchval("SELECT count(*) FROM categories") == 0


async def test_create_category_duplicate_name_returns_409(api: ApiClient, staff: dict[str, str]) -> None:
    await _category(api, staff, "Books")
    response = await api.post("/categories", json={"name": "Books"}, headers=staff)
    assert response.status_code == 409
    assert response.json()["field"] == "name"
    assert await api.conn.fetchval("SELECT count(*) FROM categories") == 1


async def test_get_category_returns_row_and_etag(api: ApiClient, staff: dict[str, str]) -> None:
    created = await _category(api, staff, "Books")
    api.queries.reset()
    response = await api.get(f"/categories/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == '"1"'
    assert api.queries.count == 1


async def test_head_category_returns_get_headers_without_body(api: ApiClient, staff: dict[str, str]) -> None:
    created = await _category(api, staff, "Books")
    get = await api.get(f"/categories/{created['id']}")
    head = await api.head(f"/categories/{created['id']}")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"] == '"1"'
    assert head.headers["content-length"] == get.headers["content-length"]
    assert (await api.head("/categories/999999")).status_code == 404
    assert (await api.head("/categories?limit=1")).status_code == 200


async def test_get_category_missing_returns_404_problem(api: ApiClient) -> None:
    response = await api.get("/categories/999999")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


async def test_list_categories_returns_page_in_one_statement(api: ApiClient, staff: dict[str, str]) -> None:
    for name in ("B", "A", "C"):
        await _category(api, staff, name)
    api.queries.reset()
    response = await api.get("/categories?sort=name&limit=2")
    assert response.status_code == 200
    body = response.json()
    assert [c["name"] for c in body["items"]] == ["A", "B"]
    assert (body["total"], body["skip"], body["limit"]) == (3, 0, 2)
    assert api.queries.count == 1


async def test_update_category_changes_only_given_fields(api: ApiClient, staff: dict[str, str]) -> None:
    created = await _category(api, staff, "Books")
    response = await api.patch(f"/categories/{created['id']}", json={"description": "Paper"}, headers=staff)
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["version"]) == ("Books", "Paper", 2)
    assert response.headers["etag"] == '"2"'


async def test_update_category_stale_if_match_returns_412(api: ApiClient, staff: dict[str, str]) -> None:
    created = await _category(api, staff, "Books")
    url = f"/categories/{created['id']}"
    assert (
        await api.patch(url, json={"name": "Novels"}, headers={**staff, "If-Match": '"1"'})
    ).status_code == 200
    response = await api.patch(url, json={"name": "Poems"}, headers={**staff, "If-Match": '"1"'})
    assert response.status_code == 412
    assert await api.conn.fetchval("SELECT name FROM categories WHERE id = $1", created["id"]) == "Novels"


async def test_update_category_missing_with_if_match_returns_404(
    api: ApiClient, staff: dict[str, str]
) -> None:
    response = await api.patch("/categories/999999", json={"name": "X"}, headers={**staff, "If-Match": '"1"'})
    assert response.status_code == 404


async def test_delete_category_returns_204_then_404(api: ApiClient, staff: dict[str, str]) -> None:
    created = await _category(api, staff, "Books")
    response = await api.delete(f"/categories/{created['id']}", headers=staff)
    assert response.status_code == 204
    assert await api.conn.fetchval("SELECT count(*) FROM categories") == 0
    assert (await api.delete(f"/categories/{created['id']}", headers=staff)).status_code == 404


async def test_delete_category_with_products_returns_409(api: ApiClient, staff: dict[str, str]) -> None:
    created = await _category(api, staff, "Books")
    product = {"name": "Dune", "price": 10, "category_id": created["id"]}
    assert (await api.post("/products", json=product, headers=staff)).status_code == 201
    response = await api.delete(f"/categories/{created['id']}", headers=staff)
    assert response.status_code == 409
    assert await api.conn.fetchval("SELECT count(*) FROM categories") == 1


async def test_create_product_with_tags_links_them(api: ApiClient, staff: dict[str, str]) -> None:
    tag_ids = [(await api.post("/tags", json={"name": n}, headers=staff)).json()["id"] for n in ("a", "b")]
    response = await api.post(
        "/products", json={"name": "Dune", "price": 10, "tag_ids": tag_ids}, headers=staff
    )
    assert response.status_code == 201, response.text
    product_id = response.json()["id"]
    got = (await api.get(f"/products/{product_id}?include=tags")).json()
    assert [t["id"] for t in got["tags"]] == sorted(tag_ids)


async def test_create_product_unknown_tag_returns_409_naming_tag_ids(
    api: ApiClient, staff: dict[str, str]
) -> None:
    response = await api.post(
        "/products", json={"name": "Dune", "price": 10, "tag_ids": [999999]}, headers=staff
    )
    assert response.status_code == 409
    assert response.json()["field"] == "tag_ids"
    assert await api.conn.fetchval("SELECT count(*) FROM products") == 0


async def test_update_product_tag_ids_replaces_tags(api: ApiClient, staff: dict[str, str]) -> None:
    a, b, c = [
        (await api.post("/tags", json={"name": n}, headers=staff)).json()["id"] for n in ("a", "b", "c")
    ]
    created = (
        await api.post("/products", json={"name": "Dune", "price": 10, "tag_ids": [a, b]}, headers=staff)
    ).json()
    response = await api.patch(f"/products/{created['id']}", json={"tag_ids": [b, c]}, headers=staff)
    assert response.status_code == 200, response.text
    rows = await api.conn.fetch(
        "SELECT tag_id FROM product_tags WHERE product_id = $1 ORDER BY tag_id", created["id"]
    )
    assert [r["tag_id"] for r in rows] == [b, c]


async def test_update_category_bumps_updated_at(api: ApiClient, staff: dict[str, str]) -> None:
    created = await _category(api, staff, "Books")
    await api.conn.execute("UPDATE categories SET updated_at = '2000-01-01Z' WHERE id = $1", created["id"])
    response = await api.patch(f"/categories/{created['id']}", json={"name": "Novels"}, headers=staff)
    assert response.json()["updated_at"] != "2000-01-01T00:00:00Z"
    assert response.json()["created_at"] == created["created_at"]


async def test_delete_category_stale_if_match_returns_412_and_keeps_row(
    api: ApiClient, staff: dict[str, str]
) -> None:
    created = await _category(api, staff, "Books")
    url = f"/categories/{created['id']}"
    await api.patch(url, json={"name": "Novels"}, headers=staff)
    response = await api.delete(url, headers={**staff, "If-Match": '"1"'})
    assert response.status_code == 412
    assert await api.conn.fetchval("SELECT count(*) FROM categories") == 1
    assert (await api.delete(url, headers={**staff, "If-Match": '"2"'})).status_code == 204
