"""Example bodies for the OpenAPI of generated routes, made from their schemas' JSON schema.

A field's own `examples` win; otherwise a value is made from its type (and format, bounds and
length), so every request and response of every resource has an example a reader or a client
generator can use, valid against the schema it illustrates.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_FORMATS = {
    "date-time": "2026-01-01T12:00:00Z",
    "date": "2026-01-01",
    "time": "12:00:00",
    "email": "ada@example.com",
    "uri": "https://example.com/",
    "uuid": "6f1c3b8e-4b6a-4d2e-9c7b-2f7f1b5a0c11",
}


def example(schema: type[BaseModel]) -> dict[str, Any]:
    """Return an example object of `schema`, every field filled in."""
    root = schema.model_json_schema()
    value = _value(root, root.get("$defs", {}), "")
    assert isinstance(value, dict)
    return value


def _value(node: dict[str, Any], defs: dict[str, Any], name: str) -> Any:  # noqa: C901 - one rule a branch
    if node.get("examples"):
        return node["examples"][0]
    if "$ref" in node:
        return _value(defs[node["$ref"].rsplit("/", 1)[1]], defs, name)
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [o for o in node[key] if o.get("type") != "null"]
            return _value(options[0], defs, name) if options else None
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object":
        return {k: _value(v, defs, k) for k, v in node.get("properties", {}).items()}
    if kind == "array":
        return [_value(node.get("items", {}), defs, name)]
    if kind == "integer":
        return max(int(node.get("minimum", 1)), 1)
    if kind == "number":
        return max(float(node.get("minimum", 9.5)), 9.5)
    if kind == "boolean":
        return True
    if kind == "string":
        if node.get("format") in _FORMATS:
            return _FORMATS[node["format"]]
        text = name.replace("_", " ").capitalize() or "text"
        return text[: node.get("maxLength", len(text))].ljust(node.get("minLength", 0), "x")
    return None
