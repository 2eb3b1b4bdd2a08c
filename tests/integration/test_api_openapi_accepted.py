"""OpenAPI says what the generated endpoints accept: no NUL in any string, no null for a NOT NULL column.

Checked over every generated operation of the example domain, so a new field, filter or resource that
forgets a rule fails here rather than in a client generated from the schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.resources import RESOURCES
from pgbe.testing.api import ApiClient

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
async def schema(api: ApiClient) -> dict[str, Any]:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _strings(
    schema: dict[str, Any], node: Any, where: str, seen: set[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every string schema reachable from `node`, with where it was found."""
    if isinstance(node, list):
        for item in node:
            yield from _strings(schema, item, where, seen)
        return
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return
        seen.add(name)
        yield from _strings(schema, _resolve(schema, node), name, seen)
        return
    if node.get("type") == "string":
        yield where, node
    for key, value in node.items():
        if key in ("properties",):
            for prop, sub in value.items():
                yield from _strings(schema, sub, f"{where}.{prop}", seen)
        elif key in ("anyOf", "oneOf", "allOf", "items", "additionalProperties"):
            yield from _strings(schema, value, where, seen)


def _accepted_strings(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every string a generated endpoint takes: path and query parameters and request bodies."""
    prefixes = tuple(res.path for res in RESOURCES)
    for path, item in schema["paths"].items():
        if not path.startswith(prefixes):
            continue
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for p in operation.get("parameters", []):
                if p["in"] in ("path", "query"):
                    yield from _strings(schema, p["schema"], f"{method} {path} {p['name']}", set())
            for content in operation.get("requestBody", {}).get("content", {}).values():
                yield from _strings(schema, content["schema"], f"{method} {path} body", set())


def _refuses_nul(string: dict[str, Any]) -> bool:
    if "enum" in string or string.get("format") in ("date-time", "date", "time", "uuid", "binary"):
        return True  # the value is one of a closed set or parsed: a NUL cannot pass either
    pattern = string.get("pattern")
    return pattern is not None and not any(re.search(pattern, v) for v in ("\x00", "a\x00b", "name\x00"))


def test_openapi_every_string_a_generated_endpoint_takes_refuses_nul(schema: dict[str, Any]) -> None:
    strings = list(_accepted_strings(schema))
    assert len(strings) > 20  # parameters and fields of every resource were found
    assert [where for where, string in strings if not _refuses_nul(string)] == []


def test_openapi_in_filters_refuse_nul_in_any_item(schema: dict[str, Any]) -> None:
    params = {p["name"]: p["schema"] for p in schema["paths"]["/users"]["get"]["parameters"]}
    pattern = params["role__in"]["anyOf"][0]["pattern"]
    assert re.search(pattern, "admin,staff")
    assert not re.search(pattern, "admin,sta\x00ff")
    numbers = {p["name"]: p["schema"] for p in schema["paths"]["/products"]["get"]["parameters"]}
    assert not re.search(numbers["id__in"]["anyOf"][0]["pattern"], "1,2\x00")


async def test_in_filter_with_nul_is_refused_as_the_schema_says(api: ApiClient, bearer: Any) -> None:
    response = await api.get("/users", params={"role__in": "admin,us\x00er"}, headers=bearer(1, "admin"))
    assert response.status_code == 422
    assert (
        await api.get("/users", params={"role__in": "admin,user"}, headers=bearer(1, "admin"))
    ).status_code == 200


def _update_bodies(schema: dict[str, Any], res: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for method in ("patch", "put"):
        operation = schema["paths"].get(res.item_path, {}).get(method)
        if operation is None:
            continue
        for content in operation.get("requestBody", {}).get("content", {}).values():
            node = content["schema"]
            for option in node.get("oneOf", node.get("anyOf", [node])):
                if "$ref" in option:
                    yield option["$ref"].rsplit("/", 1)[1], _resolve(schema, option)


def _allows_null(node: dict[str, Any]) -> bool:
    return node.get("type") == "null" or any(o.get("type") == "null" for o in node.get("anyOf", []))


@pytest.mark.parametrize("res", RESOURCES, ids=lambda r: r.path)
def test_openapi_update_schemas_never_offer_null_for_a_not_null_column(
    schema: dict[str, Any], res: Any
) -> None:
    not_null = {c.key for c in res.mapper.column_attrs if not c.columns[0].nullable}
    bodies = list(_update_bodies(schema, res))
    assert bodies, f"no update body found for {res.path}"
    offending = [
        f"{name}.{prop}"
        for name, body in bodies
        for prop, node in body.get("properties", {}).items()
        if prop in not_null and _allows_null(node)
    ]
    assert offending == []
