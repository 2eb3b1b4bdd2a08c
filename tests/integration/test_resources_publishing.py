"""A publishing API declared only with generated resources: lookups, nesting, computed fields,
envelopes, row permissions, actions, views and methods, each request one SQL statement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from app.config.auth import auth
from app.config.database import database
from app.config.settings import get_settings
from pgbe.http.problems import install_problem_handlers
from pgbe.resources import ResourceRegistry, register
from pgbe.testing.api import ApiClient, rolled_back_client
from pgbe.testing.principals import Bearer as SessionBearer
from tests.publishing import RESOURCES, create_tables

Bearer = Callable[[int, str], dict[str, str]]


@pytest.fixture
async def pub() -> AsyncIterator[ApiClient]:
    app = FastAPI()
    install_problem_handlers(app)
    registry = ResourceRegistry(database, get_settings(), resolve_principal=auth.resolve_principal)
    register(app, *RESOURCES, registry=registry)
    async with rolled_back_client(app, database) as client:
        await create_tables(client.conn)
        yield client


@pytest.fixture
def bearer(pub: ApiClient) -> Bearer:
    """Tokens of the publishing app's callers: their accounts and sessions on its connection."""
    return SessionBearer(auth.codec, pub, pub.conn)


@pytest.fixture
async def world(pub: ApiClient, bearer: Bearer) -> dict[str, Any]:
    """ann (author of two posts), ben (who follows ann and likes one), cyd (no relation); labels."""
    conn = pub.conn
    ids = {
        name: await conn.fetchval("INSERT INTO writers (username) VALUES ($1) RETURNING id", name)
        for name in ("ann", "ben", "cyd")
    }
    await conn.execute("INSERT INTO follows VALUES ($1, $2)", ids["ben"], ids["ann"])
    for i, (slug, author) in enumerate([("first", "ann"), ("second", "ann"), ("third", "cyd")]):
        post = await conn.fetchval(
            "INSERT INTO posts (slug, title, body, author_id, created_at)"
            " VALUES ($1, $1, 'text', $2, now() - make_interval(days => $3)) RETURNING id",
            slug,
            ids[author],
            3 - i,
        )
        ids[slug] = post
    label = await conn.fetchval("INSERT INTO labels (name) VALUES ('news') RETURNING id")
    await conn.execute("INSERT INTO post_labels VALUES ($1, $2)", ids["first"], label)
    await conn.execute("INSERT INTO likes VALUES ($1, $2)", ids["first"], ids["ben"])
    ids["as"] = {name: bearer(ids[name], "user") for name in ("ann", "ben", "cyd")} | {"nobody": {}}
    pub.queries.reset()
    return ids


async def test_get_by_slug_answers_enveloped_camel_case_json_with_computed_fields(
    pub: ApiClient, world: dict[str, Any]
) -> None:
    response = await pub.get("/posts/first", headers=world["as"]["ben"])
    assert response.status_code == 200, response.text
    post = response.json()["post"]
    assert post["slug"] == "first"
    assert post["labelList"] == ["news"]
    assert (post["likesCount"], post["liked"], post["titleLength"]) == (1, True, 5)
    assert post["author"] == {"username": "ann", "bio": None, "following": True}
    assert "created_at" not in post
    assert "createdAt" in post
    # computed fields and related rows are in the JSON: its hash follows the version (If-Match takes it)
    assert response.headers["etag"].startswith('"1.')
    assert pub.queries.count == 1


async def test_get_as_anonymous_shows_false_caller_flags(pub: ApiClient, world: dict[str, Any]) -> None:
    post = (await pub.get("/posts/first")).json()["post"]
    assert (post["liked"], post["author"]["following"]) == (False, False)


@pytest.mark.parametrize("path", ["/posts/nothing", "/writers/nobody", "/posts/nothing/remarks"])
async def test_missing_item_or_parent_answers_404(pub: ApiClient, world: dict[str, Any], path: str) -> None:
    response = await pub.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_create_links_labels_by_name_creating_missing_ones(
    pub: ApiClient, world: dict[str, Any]
) -> None:
    body = {"post": {"title": "Hello, World", "body": "hi", "labelList": ["zeta", "news", "zeta"]}}
    response = await pub.post("/posts", json=body, headers=world["as"]["cyd"])
    assert response.status_code == 201, response.text
    post = response.json()["post"]
    assert (post["slug"], post["labelList"], post["likesCount"]) == ("hello-world", ["news", "zeta"], 0)
    assert post["author"]["username"] == "cyd"
    assert response.headers["location"] == "/posts/hello-world"
    assert pub.queries.count == 1
    names = await pub.conn.fetch("SELECT name FROM labels ORDER BY name")
    assert [r[0] for r in names] == ["news", "zeta"]
    stored = await pub.conn.fetchval("SELECT author_id FROM posts WHERE slug = 'hello-world'")
    assert stored == world["cyd"]


async def test_create_refuses_a_body_outside_its_envelope(pub: ApiClient, world: dict[str, Any]) -> None:
    response = await pub.post("/posts", json={"title": "x", "body": "y"}, headers=world["as"]["cyd"])
    assert response.status_code == 422
    assert await pub.conn.fetchval("SELECT count(*) FROM posts") == 3


@pytest.mark.parametrize(("who", "status"), [("nobody", 401), ("cyd", 403), ("ben", 403)])
async def test_put_by_anyone_but_the_author_is_refused_and_changes_nothing(
    pub: ApiClient, world: dict[str, Any], who: str, status: int
) -> None:
    response = await pub.put("/posts/first", json={"post": {"body": "taken"}}, headers=world["as"][who])
    assert response.status_code == status
    assert await pub.conn.fetchval("SELECT body FROM posts WHERE slug = 'first'") == "text"


async def test_put_by_the_author_renames_relabels_and_runs_one_statement(
    pub: ApiClient, world: dict[str, Any]
) -> None:
    body = {"post": {"title": "First, again", "labelList": ["fresh"]}}
    response = await pub.put("/posts/first", json=body, headers=world["as"]["ann"])
    assert response.status_code == 200, response.text
    post = response.json()["post"]
    assert (post["slug"], post["labelList"], post["likesCount"]) == ("first-again", ["fresh"], 1)
    assert pub.queries.count == 1
    linked = await pub.conn.fetch(
        "SELECT l.name FROM post_labels pl JOIN labels l ON l.id = pl.label_id WHERE pl.post_id = $1",
        world["first"],
    )
    assert [r[0] for r in linked] == ["fresh"]


async def test_left_out_method_answers_405_with_allow(pub: ApiClient, world: dict[str, Any]) -> None:
    patched = await pub.patch("/posts/first", json={"post": {}}, headers=world["as"]["ann"])
    assert patched.status_code == 405
    assert patched.headers["allow"] == "DELETE, GET, HEAD, PUT"
    writer = await pub.delete("/writers/ann", headers=world["as"]["ann"])
    assert writer.status_code == 405
    assert (await pub.post("/writers", json={}, headers=world["as"]["ann"])).status_code == 405


@pytest.mark.parametrize(("who", "status"), [("nobody", 401), ("cyd", 403), ("ann", 204)])
async def test_delete_only_by_the_author(
    pub: ApiClient, world: dict[str, Any], who: str, status: int
) -> None:
    assert (await pub.delete("/posts/second", headers=world["as"][who])).status_code == status
    left = await pub.conn.fetchval("SELECT count(*) FROM posts WHERE slug = 'second'")
    assert left == (0 if status == 204 else 1)


async def test_like_and_unlike_answer_the_new_state_in_one_statement_each(
    pub: ApiClient, world: dict[str, Any]
) -> None:
    cyd = world["as"]["cyd"]
    liked = await pub.post("/posts/first/like", headers=cyd)
    assert liked.status_code == 200, liked.text
    assert (liked.json()["post"]["likesCount"], liked.json()["post"]["liked"]) == (2, True)
    again = await pub.post("/posts/first/like", headers=cyd)
    assert again.json()["post"]["likesCount"] == 2  # liking twice is one like
    unliked = await pub.delete("/posts/first/like", headers=cyd)
    assert (unliked.json()["post"]["likesCount"], unliked.json()["post"]["liked"]) == (1, False)
    assert pub.queries.count == 3
    assert (await pub.post("/posts/first/like")).status_code == 401
    assert (await pub.post("/posts/nothing/like", headers=cyd)).status_code == 404


async def test_follow_shows_in_profiles_and_in_the_feed(pub: ApiClient, world: dict[str, Any]) -> None:
    cyd = world["as"]["cyd"]
    followed = await pub.post("/writers/ann/follow", headers=cyd)
    assert followed.status_code == 200, followed.text
    assert followed.json() == {"username": "ann", "bio": None, "following": True}
    feed = (await pub.get("/posts/feed", headers=cyd)).json()
    assert [p["slug"] for p in feed["posts"]] == ["second", "first"]
    assert feed["postsCount"] == 2
    assert (await pub.get("/posts/feed")).status_code == 401
    itself = await pub.post("/writers/cyd/follow", headers=cyd)
    assert itself.status_code == 422  # the table's check constraint: nobody follows themselves


@pytest.mark.parametrize(
    ("query", "slugs"),
    [
        ("", ["third", "second", "first"]),  # newest first by default
        ("label=news", ["first"]),
        ("author=ann", ["second", "first"]),
        ("liked=ben", ["first"]),
        ("likes_count__gte=1", ["first"]),
        ("sort=title&offset=1", ["second", "third"]),
        ("skip=2&whatever=1", ["third", "second", "first"]),  # unknown parameters ignored
    ],
)
async def test_list_parameters_aliases_default_sort_and_ignored_unknowns(
    pub: ApiClient, world: dict[str, Any], query: str, slugs: list[str]
) -> None:
    body = (await pub.get(f"/posts?{query}")).json()
    assert [p["slug"] for p in body["posts"]] == slugs
    assert set(body) == {"posts", "postsCount"}
    assert pub.queries.count == 1


async def test_remarks_nested_under_their_post(pub: ApiClient, world: dict[str, Any]) -> None:
    ben, cyd = world["as"]["ben"], world["as"]["cyd"]
    created = await pub.post("/posts/first/remarks", json={"remark": {"body": "nice"}}, headers=ben)
    assert created.status_code == 201, created.text
    remark = created.json()["remark"]
    assert remark["author"]["username"] == "ben"
    assert created.headers["location"] == f"/posts/first/remarks/{remark['id']}"
    stored = await pub.conn.fetchrow("SELECT post_id, author_id FROM remarks WHERE id = $1", remark["id"])
    assert tuple(stored) == (world["first"], world["ben"])
    listed = (await pub.get("/posts/first/remarks")).json()
    assert listed == {"remarks": [remark]}
    assert (await pub.get("/posts/second/remarks")).json() == {"remarks": []}
    assert (await pub.get(f"/posts/second/remarks/{remark['id']}")).status_code == 404
    assert (
        await pub.post("/posts/nothing/remarks", json={"remark": {"body": "x"}}, headers=ben)
    ).status_code == 404
    smuggled = {"remark": {"body": "x", "post_id": world["third"]}}
    assert (await pub.post("/posts/first/remarks", json=smuggled, headers=ben)).status_code == 422
    assert (await pub.delete(f"/posts/first/remarks/{remark['id']}", headers=cyd)).status_code == 403
    assert (await pub.delete(f"/posts/first/remarks/{remark['id']}", headers=ben)).status_code == 204


async def test_list_of_single_values(pub: ApiClient, world: dict[str, Any]) -> None:
    await pub.conn.execute("INSERT INTO labels (name) VALUES ('art')")
    assert (await pub.get("/labels")).json() == {"labels": ["art", "news"]}


async def test_page_of_a_hundred_with_every_computed_field_is_one_statement(
    pub: ApiClient, world: dict[str, Any]
) -> None:
    await pub.conn.execute(
        "INSERT INTO posts (slug, title, body, author_id) SELECT 'p' || i, 't' || i, 'b', $1"
        " FROM generate_series(1, 120) i",
        world["ann"],
    )
    response = await pub.get("/posts?limit=100", headers=world["as"]["ben"])
    body = response.json()
    assert len(body["posts"]) == 100
    assert body["postsCount"] == 123
    assert all(p["author"]["following"] for p in body["posts"] if p["author"]["username"] == "ann")
    assert pub.queries.count == 1


def _schema() -> dict[str, Any]:
    app = FastAPI()
    register(app, *RESOURCES, registry=ResourceRegistry(database, get_settings()))
    return app.openapi()


def test_openapi_documents_lookups_methods_envelopes_and_actions() -> None:
    schema = _schema()
    paths, components = schema["paths"], schema["components"]["schemas"]
    assert set(paths["/posts/{slug}"]) == {"get", "put", "delete"}  # PUT chosen, PATCH left out
    assert set(paths["/writers/{username}"]) == {"get"}
    assert set(paths["/posts/{slug}/like"]) == {"post", "delete"}
    assert "/posts/feed" in paths
    (slug,) = [p for p in paths["/posts/{slug}"]["get"]["parameters"] if p["in"] == "path"]
    assert (slug["in"], slug["schema"]["type"], slug["schema"]["maxLength"]) == ("path", "string", 120)
    one = paths["/posts/{slug}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert components[one["$ref"].rsplit("/", 1)[1]]["required"] == ["post"]
    listed = paths["/posts"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(components[listed["$ref"].rsplit("/", 1)[1]]["properties"]) == {"posts", "postsCount"}
    query = {p["name"] for p in paths["/posts"]["get"]["parameters"]}
    assert {"offset", "label", "author", "liked", "likes_count__gte", "limit", "sort"} <= query
    assert not {"skip", "labels.name"} & query
    body = paths["/posts"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert set(components[body.rsplit("/", 1)[1]]["properties"]) == {"post"}
    assert set(components["PostRead"]["properties"]) >= {"labelList", "likesCount", "createdAt", "author"}
    assert components["LabelReadList"]["properties"]["labels"]["items"] == {"type": "string"}


def test_pgbe_routes_lists_actions_and_row_rules_without_left_out_methods() -> None:
    from pgbe.cli.routes import collect_routes

    app = FastAPI()
    register(app, *RESOURCES, registry=ResourceRegistry(database, get_settings()))
    rows = {(r.method, r.path): r.permission for r in collect_routes(app.routes)}
    assert rows[("PUT", "/posts/{slug}")] == "caller is author"
    assert rows[("POST", "/posts/{slug}/like")] == "authenticated"
    assert rows[("DELETE", "/posts/{slug}/remarks/{id}")] == "caller is author"
    assert ("PATCH", "/posts/{slug}") not in rows
    assert ("DELETE", "/writers/{username}") not in rows


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lookup": "title"}, "not unique"),
        ({"lookup": "nope"}, "not a column"),
        ({"operations": ["list", "frobnicate"]}, "choose from"),
        ({"update_methods": ["POST"]}, "PATCH, PUT or both"),
        ({"filters": {"author.id": ["eq"]}}, "not in WriterRead"),
        ({"filters": {"liked_by.id": ["eq"]}}, "in no schema"),
        ({"default_sort": "-body"}, "cannot sort"),
    ],
)
def test_impossible_declaration_fails_when_declared(options: dict[str, Any], message: str) -> None:
    from pgbe.resources import Resource
    from tests.publishing import Post, PostRead

    with pytest.raises(ValueError, match=message):
        Resource(Post, read=PostRead, sort=["title"], **options)


def test_nested_resource_without_a_path_to_its_parent_fails_when_declared() -> None:
    from pgbe.resources import Resource
    from tests.publishing import Label, LabelRead, posts

    with pytest.raises(ValueError, match="parent_field"):
        Resource(Label, read=LabelRead, parent=posts)


def test_two_routes_claiming_one_path_fail_at_register() -> None:
    from pgbe.resources import Resource
    from tests.publishing import Writer, WriterRead

    twin = Resource(Writer, read=WriterRead, path="/writers", lookup="username", operations=["list", "get"])
    with pytest.raises(ValueError, match="declared twice"):
        register(FastAPI(), *RESOURCES, twin, registry=ResourceRegistry(database, get_settings()))
