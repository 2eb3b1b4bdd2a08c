"""The Conduit example is only declarations: no hand-written route, few resource lines, exact OpenAPI."""

from __future__ import annotations

import ast
import os
from typing import Any

from fastapi.routing import APIRoute

from pgbe.resources.routes import ResourceRoute
from tests.conduit_fixtures import CONDUIT_ROOT

REALWORLD = {
    ("POST", "/api/users"),
    ("POST", "/api/users/login"),
    ("GET", "/api/user"),
    ("PUT", "/api/user"),
    ("GET", "/api/profiles/{username}"),
    ("POST", "/api/profiles/{username}/follow"),
    ("DELETE", "/api/profiles/{username}/follow"),
    ("GET", "/api/articles"),
    ("GET", "/api/articles/feed"),
    ("GET", "/api/articles/{slug}"),
    ("POST", "/api/articles"),
    ("PUT", "/api/articles/{slug}"),
    ("DELETE", "/api/articles/{slug}"),
    ("POST", "/api/articles/{slug}/comments"),
    ("GET", "/api/articles/{slug}/comments"),
    ("DELETE", "/api/articles/{slug}/comments/{id}"),
    ("POST", "/api/articles/{slug}/favorite"),
    ("DELETE", "/api/articles/{slug}/favorite"),
    ("GET", "/api/tags"),
}


def test_every_api_route_is_a_generated_resource_route(conduit_app: Any) -> None:
    routes = [r for r in conduit_app.routes if isinstance(r, APIRoute)]
    api = [r for r in routes if r.path.startswith("/api")]
    assert all(isinstance(r, ResourceRoute) for r in api)
    assert not [r for r in routes if r.endpoint.__module__.startswith("conduit")]  # nothing hand-written
    served = {(m, r.path) for r in api for m in r.methods if m != "HEAD"}
    assert served == REALWORLD


def test_resource_declarations_total_at_most_200_lines() -> None:
    source = (CONDUIT_ROOT / "conduit" / "resources.py").read_text()
    calls = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Resource"
    ]
    lines = sum(node.end_lineno - node.lineno + 1 for node in calls if node.end_lineno is not None)
    assert len(calls) == 6
    assert lines <= 200, lines
    assert len(source.splitlines()) <= 200  # the whole module, imports and comments included


def test_openapi_shows_realworld_shapes_and_error_bodies(conduit_app: Any) -> None:
    schema = conduit_app.openapi()
    paths, components = schema["paths"], schema["components"]["schemas"]
    assert set(paths["/api/articles/{slug}"]) == {"get", "put", "delete"}
    assert set(paths["/api/user"]) == {"get", "put"}  # no key in the path: the caller's own account
    caller_params = paths["/api/user"]["get"].get("parameters", [])
    assert not [p for p in caller_params if p["in"] == "path"]  # only headers (If-None-Match)
    ids = {op["operationId"] for item in paths.values() for op in item.values()}
    assert {"user.get", "user.update", "users.get", "users.create", "users.follow"} <= ids
    listed = paths["/api/articles"]["get"]
    names = {p["name"] for p in listed["parameters"]}
    assert {"tag", "author", "favorited", "limit", "offset"} <= names
    assert not {"skip", "tags.name"} & names
    page = listed["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(components[page]["properties"]) == {"articles", "articlesCount"}
    article = set(components["ArticleRead"]["properties"])
    assert article == {
        "slug", "title", "description", "body", "tagList", "createdAt", "updatedAt",
        "favorited", "favoritesCount", "author",
    }  # fmt: skip
    missing = paths["/api/articles/{slug}"]["get"]["responses"]["404"]["content"]
    assert missing["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert components["TagReadList"]["properties"]["tags"]["items"] == {"type": "string"}


def test_models_and_migrations_agree(conduit_app: Any) -> None:
    """Conduit's own migration builds exactly its models' schema (Alembic's check: nothing to add)."""
    from alembic import command

    from pgbe.migrations import alembic_config

    del conduit_app  # migrated the database named by CONDUIT_DATABASE_URL
    command.check(alembic_config(CONDUIT_ROOT, url=os.environ["CONDUIT_DATABASE_URL"]))
