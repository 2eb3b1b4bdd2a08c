"""Text search filters: `%` and `_` match literally, patterns have a bounded length."""

from __future__ import annotations

from typing import Any

from pgbe.query.operators import MAX_PATTERN_CHARS, MAX_PATTERN_WILDCARDS
from pgbe.testing.api import ApiClient


async def _seed(api: ApiClient) -> None:
    for name in ("Cable 50%_off", "Cable 50 off", "Duct tape"):
        await api.conn.execute("INSERT INTO products (name, price) VALUES ($1, 1)", name)


async def test_contains_pattern_over_the_limit_returns_422_naming_it(api: ApiClient) -> None:
    response = await api.get(f"/products?name__icontains={'a' * (MAX_PATTERN_CHARS + 1)}")

    assert response.status_code == 422
    assert f"at most {MAX_PATTERN_CHARS} characters" in response.json()["detail"]
    assert api.queries.count == 0


async def test_contains_pattern_of_wildcards_matches_them_literally(api: ApiClient) -> None:
    await _seed(api)

    only_wildcards = await api.get(f"/products?name__contains={'%_' * (MAX_PATTERN_WILDCARDS // 2)}")
    literal = await api.get("/products?name__contains=50%25_")

    assert only_wildcards.status_code == 200
    assert only_wildcards.json()["items"] == []
    assert [p["name"] for p in literal.json()["items"]] == ["Cable 50%_off"]


async def test_startswith_pattern_is_bounded_too(api: ApiClient) -> None:
    response = await api.get(f"/products?name__startswith={'%' * (MAX_PATTERN_CHARS + 1)}")

    assert response.status_code == 422


async def test_openapi_documents_the_pattern_limit(api: ApiClient) -> None:
    schema: dict[str, Any] = (await api.get("/openapi.json")).json()
    params = {p["name"]: p["schema"] for p in schema["paths"]["/products"]["get"]["parameters"]}

    assert params["name__icontains"]["anyOf"][0]["maxLength"] == MAX_PATTERN_CHARS
