"""Conduit's articles over HTTP: list, feed, read, write, favorite; as anonymous, author and another user."""

from __future__ import annotations

from typing import Any

import pytest

from pgbe.testing.api import ApiClient
from tests.conduit_fixtures import World, add_article


def errors(response: Any) -> list[str]:
    """The messages of a RealWorld error body (and nothing else in it)."""
    assert response.headers["content-type"] == "application/json", response.text
    body = response.json()
    assert set(body) == {"errors"}, body
    assert set(body["errors"]) == {"body"}, body
    messages: list[str] = body["errors"]["body"]
    assert messages
    assert all(isinstance(m, str) for m in messages)
    return messages


async def test_get_article_as_each_caller_shows_their_flags(conduit: ApiClient, world: World) -> None:
    expected = {
        "anonymous": (False, False),
        "jane": (True, True),
        "bob": (False, False),
        "jake": (False, False),
    }
    for who, (favorited, following) in expected.items():
        response = await conduit.get("/api/articles/how-to-train", headers=world.as_(who))
        assert response.status_code == 200, response.text
        article = response.json()["article"]
        assert (article["favorited"], article["author"]["following"]) == (favorited, following), who
        assert article["favoritesCount"] == 1
        assert article["tagList"] == ["dragons", "training"]
        assert article["author"] == {"username": "jake", "bio": None, "image": None, "following": following}
        assert set(article) == {
            "slug", "title", "description", "body", "tagList", "createdAt", "updatedAt",
            "favorited", "favoritesCount", "author",
        }  # fmt: skip
    assert conduit.queries.count == len(expected)


async def test_get_missing_article_answers_404_in_the_realworld_shape(
    conduit: ApiClient, world: World
) -> None:
    for who in ("anonymous", "jake", "bob"):
        response = await conduit.get("/api/articles/no-such-article", headers=world.as_(who))
        assert response.status_code == 404
        assert errors(response) == ["Article no-such-article not found"]
    too_long = await conduit.get("/api/articles/" + "x" * 121)
    assert too_long.status_code == 422
    assert errors(too_long) == ["slug: at most 120 characters"]


@pytest.mark.parametrize(
    ("query", "slugs"),
    [
        ("", ["bobs-notes", "second-flight", "how-to-train"]),  # newest first
        ("tag=dragons", ["how-to-train"]),
        ("author=jake", ["second-flight", "how-to-train"]),
        ("favorited=jane", ["how-to-train"]),
        ("favorited=bob", []),
        ("limit=1&offset=1", ["second-flight"]),
        ("author=jake&tag=notes", []),
        ("whatever=1", ["bobs-notes", "second-flight", "how-to-train"]),  # unknown parameters ignored
    ],
)
async def test_list_articles_filters_and_pages_in_one_statement(
    conduit: ApiClient, world: World, query: str, slugs: list[str]
) -> None:
    response = await conduit.get(f"/api/articles?{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"articles", "articlesCount"}
    assert [a["slug"] for a in body["articles"]] == slugs
    assert body["articlesCount"] == (len(slugs) if "limit" not in query else 3)
    assert conduit.queries.count == 1


async def test_list_articles_shows_each_callers_flags(conduit: ApiClient, world: World) -> None:
    def flags(body: dict[str, Any]) -> dict[str, tuple[bool, bool, int]]:
        return {
            a["slug"]: (a["favorited"], a["author"]["following"], a["favoritesCount"])
            for a in body["articles"]
        }

    jane = flags((await conduit.get("/api/articles", headers=world.as_("jane"))).json())
    assert jane == {
        "bobs-notes": (False, False, 0),
        "second-flight": (False, True, 0),
        "how-to-train": (True, True, 1),
    }
    anonymous = flags((await conduit.get("/api/articles")).json())
    assert anonymous["how-to-train"] == (False, False, 1)
    jake = flags((await conduit.get("/api/articles", headers=world.as_("jake"))).json())
    assert jake["how-to-train"] == (False, False, 1)  # his own: not favorited, not following himself
    assert conduit.queries.count == 3


async def test_list_articles_refuses_a_malformed_page(conduit: ApiClient, world: World) -> None:
    for query in ("limit=-1", "offset=x", "limit=100000"):
        response = await conduit.get(f"/api/articles?{query}")
        assert response.status_code == 422, query
        assert errors(response)


async def test_feed_lists_articles_of_followed_authors(conduit: ApiClient, world: World) -> None:
    jane = await conduit.get("/api/articles/feed", headers=world.as_("jane"))
    assert jane.status_code == 200, jane.text
    assert [a["slug"] for a in jane.json()["articles"]] == ["second-flight", "how-to-train"]
    assert jane.json()["articlesCount"] == 2
    assert all(a["author"]["following"] for a in jane.json()["articles"])
    for who in ("bob", "jake"):  # they follow nobody
        nobody = await conduit.get("/api/articles/feed?limit=5", headers=world.as_(who))
        assert nobody.json() == {"articles": [], "articlesCount": 0}
    assert conduit.queries.count == 3
    anonymous = await conduit.get("/api/articles/feed")
    assert anonymous.status_code == 401
    assert errors(anonymous)
    assert (await conduit.post("/api/articles/feed", headers=world.as_("jane"))).status_code == 405


async def test_create_article_by_a_signed_in_user_in_one_statement(conduit: ApiClient, world: World) -> None:
    body = {
        "article": {
            "title": "How to Train Your Dragon, Again!",
            "description": "Ever wonder how?",
            "body": "You have to believe",
            "tagList": ["training", "dragons", "new-tag", "dragons"],
        }
    }
    response = await conduit.post("/api/articles", json=body, headers=world.as_("bob"))
    assert response.status_code == 201, response.text
    assert conduit.queries.count == 1
    article = response.json()["article"]
    assert article["slug"] == "how-to-train-your-dragon-again"
    assert article["tagList"] == ["dragons", "new-tag", "training"]
    assert (article["favorited"], article["favoritesCount"]) == (False, 0)
    assert article["author"] == {"username": "bob", "bio": None, "image": None, "following": False}
    assert response.headers["location"] == "/api/articles/how-to-train-your-dragon-again"
    author = await conduit.conn.fetchval("SELECT author_id FROM articles WHERE slug = $1", article["slug"])
    assert author == world.ids["bob"]
    tags = await conduit.conn.fetch("SELECT name FROM tags ORDER BY name")
    assert [t["name"] for t in tags] == ["dragons", "new-tag", "notes", "training"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": "x", "description": "y", "body": "z"}, "article: Field required"),
        ({"article": {"title": "x", "body": "z"}}, "article.description: Field required"),
        ({"article": {"title": "", "description": "y", "body": "z"}}, "article.title: String should have"),
        ({"article": {"title": "x", "description": "y", "body": "z", "slug": "s"}}, "article.slug: Extra"),
        ({"article": {"title": "x", "description": "y", "body": "z", "authorId": 1}}, "article.authorId"),
        ({"article": {"title": "x", "description": "y", "body": "z", "tagList": "a"}}, "article.tagList"),
    ],
)
async def test_create_article_refuses_invalid_bodies_with_422(
    conduit: ApiClient, world: World, body: dict[str, Any], message: str
) -> None:
    response = await conduit.post("/api/articles", json=body, headers=world.as_("bob"))
    assert response.status_code == 422, response.text
    assert any(m.startswith(message) or message in m for m in errors(response)), errors(response)
    assert await conduit.conn.fetchval("SELECT count(*) FROM articles") == 3


async def test_create_article_anonymous_401_and_taken_slug_409(conduit: ApiClient, world: World) -> None:
    body = {"article": {"title": "How to train", "description": "d", "body": "b"}}
    anonymous = await conduit.post("/api/articles", json=body)
    assert anonymous.status_code == 401
    assert errors(anonymous)
    taken = await conduit.post("/api/articles", json=body, headers=world.as_("bob"))
    assert taken.status_code == 409
    assert any("slug" in m for m in errors(taken))
    assert await conduit.conn.fetchval("SELECT count(*) FROM articles") == 3


@pytest.mark.parametrize(("who", "status"), [("anonymous", 401), ("bob", 403), ("jane", 403)])
async def test_update_article_by_anyone_but_its_author_is_refused(
    conduit: ApiClient, world: World, who: str, status: int
) -> None:
    body = {"article": {"body": "taken over"}}
    response = await conduit.put("/api/articles/how-to-train", json=body, headers=world.as_(who))
    assert response.status_code == status
    assert errors(response)
    assert await conduit.conn.fetchval("SELECT body FROM articles WHERE slug = 'how-to-train'") == (
        "text of how-to-train"
    )


async def test_update_article_by_its_author_renames_and_retags(conduit: ApiClient, world: World) -> None:
    body = {"article": {"title": "How to Train, Revised", "tagList": ["revised"]}}
    response = await conduit.put("/api/articles/how-to-train", json=body, headers=world.as_("jake"))
    assert response.status_code == 200, response.text
    assert conduit.queries.count == 1
    article = response.json()["article"]
    assert (article["slug"], article["title"], article["tagList"]) == (
        "how-to-train-revised",
        "How to Train, Revised",
        ["revised"],
    )
    assert article["favoritesCount"] == 1
    assert article["body"] == "text of how-to-train"
    assert (await conduit.get("/api/articles/how-to-train")).status_code == 404
    missing = await conduit.put("/api/articles/nothing", json=body, headers=world.as_("jake"))
    assert missing.status_code == 404
    invalid = await conduit.put(
        "/api/articles/second-flight", json={"article": {"title": None}}, headers=world.as_("jake")
    )
    assert invalid.status_code == 422


async def test_patch_is_not_offered_405_with_allow(conduit: ApiClient, world: World) -> None:
    response = await conduit.patch(
        "/api/articles/how-to-train", json={"article": {"body": "x"}}, headers=world.as_("jake")
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD, PUT"
    assert errors(response)
    assert (await conduit.delete("/api/articles", headers=world.as_("jake"))).status_code == 405


@pytest.mark.parametrize(("who", "status"), [("anonymous", 401), ("bob", 403), ("jake", 204)])
async def test_delete_article_only_by_its_author(
    conduit: ApiClient, world: World, who: str, status: int
) -> None:
    response = await conduit.delete("/api/articles/how-to-train", headers=world.as_(who))
    assert response.status_code == status
    assert conduit.queries.count == (1 if who != "anonymous" else 0)
    left = await conduit.conn.fetchval("SELECT count(*) FROM articles WHERE slug = 'how-to-train'")
    assert left == (0 if status == 204 else 1)
    if status == 204:  # its comments, favorites and tag links go with it; the tags stay
        assert await conduit.conn.fetchval("SELECT count(*) FROM favorites") == 0
        assert await conduit.conn.fetchval("SELECT count(*) FROM tags") == 3
        again = await conduit.delete("/api/articles/how-to-train", headers=world.as_(who))
        assert again.status_code == 404


async def test_favorite_and_unfavorite_answer_the_new_state(conduit: ApiClient, world: World) -> None:
    bob = world.as_("bob")
    favorited = await conduit.post("/api/articles/how-to-train/favorite", headers=bob)
    assert favorited.status_code == 200, favorited.text
    article = favorited.json()["article"]
    assert (article["favorited"], article["favoritesCount"]) == (True, 2)
    twice = await conduit.post("/api/articles/how-to-train/favorite", headers=bob)
    assert twice.json()["article"]["favoritesCount"] == 2  # favoriting twice is one favorite
    own = await conduit.post("/api/articles/how-to-train/favorite", headers=world.as_("jake"))
    assert own.json()["article"]["favoritesCount"] == 3  # RealWorld lets authors favorite their own
    undone = await conduit.delete("/api/articles/how-to-train/favorite", headers=bob)
    assert (undone.json()["article"]["favorited"], undone.json()["article"]["favoritesCount"]) == (False, 2)
    never = await conduit.delete("/api/articles/second-flight/favorite", headers=bob)
    assert never.json()["article"]["favoritesCount"] == 0
    assert conduit.queries.count == 5
    anonymous = await conduit.post("/api/articles/how-to-train/favorite")
    assert anonymous.status_code == 401
    assert errors(anonymous)
    missing = await conduit.post("/api/articles/nothing/favorite", headers=bob)
    assert missing.status_code == 404
    assert errors(missing)
    assert (await conduit.get("/api/articles/how-to-train/favorite", headers=bob)).status_code == 405


async def test_page_of_a_hundred_articles_with_every_computed_field_is_one_statement(
    conduit: ApiClient, world: World
) -> None:
    for i in range(120):
        author = world.ids["jake"] if i % 2 else world.ids["bob"]
        await add_article(conduit.conn, f"bulk-{i}", author, tags=(f"t{i % 7}", "bulk"), days_ago=3)
    await conduit.conn.execute(
        "INSERT INTO favorites SELECT id, $1 FROM articles WHERE slug LIKE 'bulk-%' AND id % 3 = 0",
        world.ids["jane"],
    )
    conduit.queries.reset()
    response = await conduit.get("/api/articles?limit=100&offset=3", headers=world.as_("jane"))
    assert response.status_code == 200
    assert conduit.queries.count == 1
    body = response.json()
    assert body["articlesCount"] == 123
    page = body["articles"]
    assert len(page) == 100
    assert all(len(a["tagList"]) == 2 for a in page)
    assert all(a["author"]["following"] == (a["author"]["username"] == "jake") for a in page)
    assert all(a["favorited"] == (a["favoritesCount"] == 1) for a in page)
    assert any(a["favorited"] for a in page)
    assert not all(a["favorited"] for a in page)
