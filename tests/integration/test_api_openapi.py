"""OpenAPI of generated resources: every query parameter, body, response and problem is declared."""

from __future__ import annotations

from typing import Any

import pytest

from app.config.settings import get_settings
from app.resources import RESOURCES
from pgbe.query.operators import SEARCH_TEXT
from pgbe.resources import Resource
from pgbe.testing.api import ApiClient


@pytest.fixture
async def schema(api: ApiClient) -> dict[str, Any]:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _expected_query_names(res: Resource) -> set[str]:
    names = {"skip", "limit", "sort", "count", "cursor"} | ({"include"} if res.spec.includes else set())
    for name, field in res.spec.filters.items():
        names |= {name if op == "eq" else f"{name}__{op}" for op in field.operators}
    return names


@pytest.mark.parametrize("res", RESOURCES, ids=lambda r: r.path)
def test_openapi_list_declares_every_filter_sort_and_include(schema: dict[str, Any], res: Resource) -> None:
    operation = schema["paths"][res.path]["get"]
    declared = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert declared == _expected_query_names(res)
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ok.rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"items", "total", "total_kind", "skip", "limit", "next", "prev"}
    assert page["properties"]["items"]["items"]["$ref"].endswith(res.read.__name__)
    assert {"ETag", "Link", "Preference-Applied"} <= set(operation["responses"]["200"]["headers"])
    assert "304" in operation["responses"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert {"Prefer", "If-None-Match"} <= headers
    counts = next(p for p in operation["parameters"] if p["name"] == "count")["schema"]["anyOf"][0]
    assert counts["enum"] == ["exact", "planned", "estimated", "none"]


@pytest.mark.parametrize("res", RESOURCES, ids=lambda r: r.path)
def test_openapi_item_methods_declare_bodies_and_problems(schema: dict[str, Any], res: Resource) -> None:
    item = schema["paths"][f"{res.path}/{{id}}"]
    problem = {"$ref": "#/components/schemas/Problem"}
    assert item["get"]["responses"]["404"]["content"]["application/problem+json"]["schema"] == problem
    assert {"404", "409", "412", "422", "428"} <= set(item["patch"]["responses"])
    assert "204" in item["delete"]["responses"]
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in item["patch"]["parameters"])
    create = schema["paths"][res.path]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.endswith(res.create_schema.__name__)  # type: ignore[union-attr]
    assert {"201", "409", "422"} <= set(create["responses"])


def test_openapi_filter_parameters_are_typed(schema: dict[str, Any]) -> None:
    params = {p["name"]: p["schema"] for p in schema["paths"]["/products"]["get"]["parameters"]}
    assert "integer" in [option.get("type") for option in params["price__gte"]["anyOf"]]
    assert {"type": "boolean"} in params["sku__isnull"]["anyOf"]
    assert params["limit"]["maximum"] == get_settings().page_max_limit


def test_openapi_patch_says_when_the_body_depends_on_the_caller(schema: dict[str, Any]) -> None:
    users = schema["paths"]["/users/{id}"]["patch"]
    products = schema["paths"]["/products/{id}"]["patch"]
    assert "depends on the caller" in users["description"]
    assert "depends on the caller" not in products.get("description", "")


def test_openapi_string_fields_say_nul_is_refused(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    assert components["ProductCreate"]["properties"]["name"]["pattern"] == "^[^\\u0000]*$"
    sku = components["ProductCreate"]["properties"]["sku"]["anyOf"]
    assert {"type": "string", "maxLength": 100, "pattern": "^[^\\u0000]*$"}.items() <= sku[0].items()
    params = {p["name"]: p["schema"] for p in schema["paths"]["/products"]["get"]["parameters"]}
    assert params["name__icontains"]["anyOf"][0]["pattern"] == SEARCH_TEXT  # no NUL, few % and _
    assert "\\u0000" in SEARCH_TEXT


def test_openapi_update_of_not_null_column_does_not_advertise_null(schema: dict[str, Any]) -> None:
    update = schema["components"]["schemas"]["ProductUpdate"]["properties"]
    assert update["name"]["type"] == "string"  # optional, not nullable: the column is NOT NULL
    assert "anyOf" not in update["name"]
    assert {"type": "null"} in update["description"]["anyOf"]  # a nullable column may be cleared
    assert "name" not in schema["components"]["schemas"]["ProductUpdate"].get("required", [])


async def test_update_not_null_column_to_null_is_refused_by_the_schema(api: ApiClient, bearer: Any) -> None:
    product = await api.conn.fetchval("INSERT INTO products (name, price) VALUES ('Lamp', 1) RETURNING id")
    response = await api.patch(f"/products/{product}", json={"name": None}, headers=bearer(1, "staff"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "name"]
    cleared = await api.patch(f"/products/{product}", json={"description": None}, headers=bearer(1, "staff"))
    assert cleared.status_code == 200
    assert await api.conn.fetchval("SELECT name FROM products WHERE id = $1", product) == "Lamp"
