"""What the schemathesis run found, fixed and pinned: the API accepts what its OpenAPI promises, and
refuses what it does not."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pgbe.auth.passwords import verify_password
from pgbe.testing.api import ApiClient


@pytest.fixture
def staff(bearer: Callable[[int, str], dict[str, str]]) -> dict[str, str]:
    return bearer(1, "staff")


def test_openapi_documents_validation_errors_as_problems() -> None:
    from app.main import app

    schema = app.openapi()
    token = schema["paths"]["/auth/token"]["post"]["responses"]
    assert list(token["422"]["content"]) == ["application/problem+json"]
    assert list(token["400"]["content"]) == ["application/problem+json"]  # unparsable body
    products = {p["name"]: p["schema"] for p in schema["paths"]["/products"]["get"]["parameters"]}
    assert any("pattern" in option for option in products["sort"]["anyOf"])  # a list, or one enum value
    assert products["price"]["anyOf"][0]["maximum"] == 2**31 - 1


async def test_sort_repeated_field_is_accepted_first_use_counts(
    api: ApiClient, staff: dict[str, str]
) -> None:
    for name, price in (("b", 1), ("a", 2)):
        assert (
            await api.post("/products", json={"name": name, "price": price}, headers=staff)
        ).status_code == 201
    response = await api.get("/products?sort=price,-price,price")
    assert response.status_code == 200
    assert [item["name"] for item in response.json()["items"]] == ["b", "a"]


async def test_every_declared_filter_at_once_is_accepted(api: ApiClient) -> None:
    from app.main import app

    reserved = {"skip", "limit", "sort", "include", "count", "cursor"}
    params = [
        p
        for p in app.openapi()["paths"]["/products"]["get"]["parameters"]
        if p["name"] not in reserved and p["in"] == "query"
    ]
    assert len(params) > 20

    def value(schema: dict[str, object]) -> str:
        first = schema["anyOf"][0]  # type: ignore[index]
        if first.get("format") == "date-time":
            return "2020-01-01T00:00:00Z"
        return {"integer": "1", "boolean": "false"}.get(first["type"], "1")

    query = "&".join(f"{p['name']}={value(p['schema'])}" for p in params)
    response = await api.get(f"/products?{query}")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("price", "status"), [(True, 422), ("5", 422), (5.0, 201), (5, 201)])
async def test_integer_field_refuses_booleans_and_text(
    api: ApiClient, staff: dict[str, str], price: object, status: int
) -> None:
    response = await api.post("/products", json={"name": "typed", "price": price}, headers=staff)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PATCH", {"price": "3"}),  # an Optional integer of an update schema
        ("PATCH", {"category_id": True}),  # an Annotated integer (Id | None)
        ("POST", {"name": "typed", "price": 1, "tag_ids": [True]}),  # the items of a list of ids
        ("POST", {"name": "typed", "price": 1, "tag_ids": ["2"]}),
    ],
)
async def test_integer_fields_of_every_shape_refuse_booleans_and_text(
    api: ApiClient, staff: dict[str, str], method: str, body: dict[str, object]
) -> None:
    created = await api.post("/products", json={"name": "before", "price": 7}, headers=staff)
    url = "/products" if method == "POST" else f"/products/{created.json()['id']}"
    response = await api.request(method, url, json=body, headers=staff)
    assert response.status_code == 422, response.text
    assert await api.conn.fetchval("SELECT count(*) FROM products") == 1
    assert await api.conn.fetchval("SELECT price FROM products") == 7


async def test_category_path_id_out_of_range_is_a_validation_error(api: ApiClient) -> None:
    response = await api.get("/categories/99999999999/products/by-controller")
    assert response.status_code == 422
    assert response.json()["type"].endswith("/validation")


def test_verify_password_unknown_stored_hash_matches_nothing() -> None:
    assert verify_password("anything", "not-a-hash") == (False, None)
