"""Bad input over HTTP: the right problem status, never a 500, and the database unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from app.config.database import database
from app.config.settings import get_settings
from app.models import Category
from app.schemas.category import CategoryCreate, CategoryRead, CategoryUpdate
from pgbe.auth.permissions import public
from pgbe.http.problems import install_problem_handlers
from pgbe.resources import Permissions, Resource, ResourceRegistry, register
from pgbe.testing.api import ApiClient, rolled_back_client

Bearer = Callable[[int, str], dict[str, str]]
TABLES = ("categories", "products", "tags", "product_tags")


@pytest.fixture
async def state(api: ApiClient) -> dict[str, Any]:
    """A category and a product; returns their ids and a fingerprint of every catalogue table."""
    category = await api.conn.fetchval("INSERT INTO categories (name) VALUES ('Books') RETURNING id")
    product = await api.conn.fetchval(
        "INSERT INTO products (name, price, category_id) VALUES ('Dune', 10, $1) RETURNING id", category
    )
    return {"category": category, "product": product, "before": await _fingerprint(api)}


async def _fingerprint(api: ApiClient) -> dict[str, str | None]:
    result = {}
    for table in TABLES:
        result[table] = await api.conn.fetchval(
            f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t"
        )
    return result


def _assert_problem(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text


@pytest.fixture
def staff(bearer: Bearer) -> dict[str, str]:
    return bearer(1, "staff")


@pytest.mark.parametrize(
    "content",
    [
        b'{"name": "x", "price": ',
        b"not json",
        b"",
        b'["a list"]',
        b'{"name": "a\\u0000b", "price": 1}',
        b'{"name": "x", "price": 1, "is_admin": true}',
        b'{"name": "x", "price": 2147483648}',
        b'{"name": "x", "price": -1}',
        b'{"name": "x", "price": 1, "category_id": 2147483648}',
        b'{"name": "x", "price": 1, "tag_ids": [99999999999]}',
        ('{"name": "' + "\u00e9" * 101 + '", "price": 1}').encode(),
        ('{"name": "x", "price": 1, "sku": "' + "\U0001f600" * 101 + '"}').encode(),
        b'{"name": "", "price": 1}',
        b'{"name": 5, "price": "5"}',
    ],
)
async def test_create_product_bad_body_returns_422_unchanged(
    api: ApiClient, state: dict[str, Any], staff: dict[str, str], content: bytes
) -> None:
    response = await api.post(
        "/products", content=content, headers={**staff, "content-type": "application/json"}
    )
    _assert_problem(response, 422)
    assert await _fingerprint(api) == state["before"]


async def test_create_product_longest_multibyte_strings_are_accepted(
    api: ApiClient, state: dict[str, Any], staff: dict[str, str]
) -> None:
    body = {"name": "\u00e9" * 100, "price": 1, "sku": "\U0001f600" * 100}
    response = await api.post("/products", json=body, headers=staff)
    assert response.status_code == 201
    assert response.json()["name"] == body["name"]


@pytest.mark.parametrize(
    "content",
    [
        b'{"name": null}',
        b'{"price": 2147483648}',
        b'{"name": "' + b"x" * 101 + b'"}',
        b'{"version": 7}',
        b"{",
    ],
)
async def test_update_product_bad_body_returns_422_unchanged(
    api: ApiClient, state: dict[str, Any], staff: dict[str, str], content: bytes
) -> None:
    url = f"/products/{state['product']}"
    response = await api.patch(url, content=content, headers={**staff, "content-type": "application/json"})
    _assert_problem(response, 422)
    assert await _fingerprint(api) == state["before"]


async def test_create_product_missing_category_returns_409_naming_field(
    api: ApiClient, state: dict[str, Any], staff: dict[str, str]
) -> None:
    response = await api.post(
        "/products", json={"name": "x", "price": 1, "category_id": 999999}, headers=staff
    )
    _assert_problem(response, 409)
    assert response.json()["field"] == "category_id"
    assert await _fingerprint(api) == state["before"]


@pytest.mark.parametrize(
    "query",
    [
        "name=a%00b",
        "na%00me=a",
        "price=2147483648",
        "price=-2147483649",
        "price__in=1,2147483648",
        "price=abc",
        "price=1.5",
        "created_at__gte=yesterday",
        "sku__isnull=maybe",
        "price__regex=.*",
        "name__gt=a",
        "hashed_password=x",
        "sort=name;DROP TABLE products",
        "sort=-price)--",
        "sort=name,,price",
        "name);DROP TABLE products--=1",
        "1=1",
        "include=category;DROP TABLE products",
        "include=owner",
        "limit=501",
        "limit=-1",
        "limit=99999999999999999999",
        "limit=abc",
        "skip=-1",
        "skip=2147483648",
        "skip=1e3",
        "limit=1&limit=2",
        "price__in=",
        "price__in=1,,2",
        "id__in=" + ",".join(str(i) for i in range(1, 1002)),
    ],
)
async def test_list_products_bad_query_returns_422(api: ApiClient, state: dict[str, Any], query: str) -> None:
    response = await api.get(f"/products?{query}")
    _assert_problem(response, 422)
    assert await _fingerprint(api) == state["before"]


@pytest.mark.parametrize(
    "query",
    [
        "name=x' OR '1'='1",
        "name=Dune'; DROP TABLE products; --",
        "name__icontains=%25' OR 1=1--",
        "category.name=Books' OR 'a'='a",
        "name__startswith=%25",
        "name__contains=_",
    ],
)
async def test_list_products_injection_values_are_literals(
    api: ApiClient, state: dict[str, Any], query: str
) -> None:
    api.queries.reset()
    response = await api.get("/products", params=dict([query.replace("%25", "%").split("=", 1)]))
    assert response.status_code == 200
    assert response.json()["total"] == 0
    assert api.queries.count == 1
    assert await _fingerprint(api) == state["before"]


async def test_list_products_thousand_in_values_runs_one_statement(
    api: ApiClient, state: dict[str, Any]
) -> None:
    ids = ",".join(str(i) for i in range(state["product"], state["product"] + 1000))
    api.queries.reset()
    response = await api.get(f"/products?id__in={ids}")
    assert response.status_code == 200
    assert response.json()["total"] == 1
    assert api.queries.count == 1


async def test_list_products_skip_at_the_maximum_returns_empty_page(
    api: ApiClient, state: dict[str, Any]
) -> None:
    response = await api.get("/products?skip=10000")
    assert response.status_code == 200
    assert (response.json()["items"], response.json()["total"]) == ([], 1)


async def test_list_products_skip_above_the_maximum_returns_422_naming_the_cursor(
    api: ApiClient, state: dict[str, Any]
) -> None:
    response = await api.get("/products?skip=2147483647")
    _assert_problem(response, 422)
    assert "cursor" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/products/0", "/products/2147483648", "/products/abc", "/products/1%00"])
async def test_get_product_malformed_id_returns_422(api: ApiClient, state: dict[str, Any], path: str) -> None:
    _assert_problem(await api.get(path), 422)


async def test_get_product_unknown_query_parameter_returns_422(api: ApiClient, state: dict[str, Any]) -> None:
    _assert_problem(await api.get(f"/products/{state['product']}?limit=5"), 422)
    _assert_problem(await api.get(f"/products/{state['product']}?limit=5"), 422)  # parsed queries are cached
    _assert_problem(await api.get(f"/products/{state['product']}?include=owner"), 422)
    assert (await api.get(f"/products/{state['product']}?include=tags,category")).json()["tags"] == []


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("PUT", "/products/1", "DELETE, GET, HEAD, PATCH"), ("DELETE", "/products", "GET, HEAD, POST")],
)
async def test_unsupported_method_returns_405_with_allow(
    api: ApiClient, state: dict[str, Any], method: str, path: str, allow: str
) -> None:
    response = await api.request(method, path, json={})
    _assert_problem(response, 405)
    assert response.headers["allow"] == allow
    assert await _fingerprint(api) == state["before"]


@pytest.mark.parametrize("if_match", ['"abc"', "W/", '"99999999999"', "2, x"])
async def test_update_product_malformed_if_match_returns_412(
    api: ApiClient, state: dict[str, Any], staff: dict[str, str], if_match: str
) -> None:
    url = f"/products/{state['product']}"
    response = await api.patch(url, json={"price": 3}, headers={**staff, "If-Match": if_match})
    _assert_problem(response, 412)
    assert await _fingerprint(api) == state["before"]


async def test_update_product_if_match_list_accepts_current(
    api: ApiClient, state: dict[str, Any], staff: dict[str, str]
) -> None:
    url = f"/products/{state['product']}"
    response = await api.patch(url, json={"price": 3}, headers={**staff, "If-Match": 'W/"7", "1"'})
    assert response.status_code == 200
    assert response.headers["etag"] == '"2"'


@pytest.fixture
async def strict_api() -> AsyncIterator[ApiClient]:
    """An app with one resource that requires If-Match on changes."""
    app = FastAPI()
    install_problem_handlers(app)
    strict = Resource(
        Category,
        read=CategoryRead,
        create=CategoryCreate,
        update=CategoryUpdate,
        path="/strict",
        require_if_match=True,
        permissions=Permissions(create=public, update=public, delete=public),
    )
    register(app, strict, registry=ResourceRegistry(database, get_settings()))
    async with rolled_back_client(app, database) as client:
        yield client


async def test_require_if_match_without_header_returns_428(strict_api: ApiClient) -> None:
    created = (await strict_api.post("/strict", json={"name": "A"})).json()
    url = f"/strict/{created['id']}"
    _assert_problem(await strict_api.patch(url, json={"name": "B"}), 428)
    _assert_problem(await strict_api.delete(url), 428)
    assert await strict_api.conn.fetchval("SELECT name FROM categories WHERE id = $1", created["id"]) == "A"
    response = await strict_api.delete(url, headers={"If-Match": '"1"'})
    assert response.status_code == 204


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
async def test_create_product_json_under_other_content_type_returns_415_unchanged(
    api: ApiClient, state: dict[str, Any], staff: dict[str, str], content_type: str | None
) -> None:
    headers = {**staff, **({"content-type": content_type} if content_type else {})}
    body = b'{"name": "Smuggled", "price": 1}'
    response = await api.post("/products", content=body, headers=headers)
    _assert_problem(response, 415)
    patched = await api.patch(f"/products/{state['product']}", content=b'{"price": 5}', headers=headers)
    _assert_problem(patched, 415)
    assert await _fingerprint(api) == state["before"]


async def test_create_product_json_with_charset_or_json_suffix_is_accepted(
    api: ApiClient, staff: dict[str, str]
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        body = b'{"name": "Fine", "price": 1}'
        response = await api.post("/products", content=body, headers={**staff, "content-type": content_type})
        assert response.status_code == 201, response.text
