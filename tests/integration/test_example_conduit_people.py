"""Conduit's people over HTTP: sign-up, profiles, follow and unfollow; comments and tags."""

from __future__ import annotations

from typing import Any

import pytest

from pgbe.auth.passwords import verify_password
from pgbe.testing.api import ApiClient
from tests.conduit_fixtures import World
from tests.integration.test_example_conduit_articles import errors

SIGN_UP = {
    "user": {"username": "newcomer", "email": "New@Conduit.example.com", "password": "correct horse 9!"}
}


@pytest.mark.parametrize("who", ["anonymous", "jake"])
async def test_sign_up_stores_a_password_hash_in_one_statement(
    conduit: ApiClient, world: World, who: str
) -> None:
    response = await conduit.post("/api/users", json=SIGN_UP, headers=world.as_(who))
    assert response.status_code == 201, response.text
    assert conduit.queries.count == 1  # the account and its sign-in session (a sign-up's) in one statement
    user = response.json()["user"]
    token = user.pop("token")
    assert user == {"email": "New@conduit.example.com", "username": "newcomer", "bio": None, "image": None}
    assert (token is None) == (who != "anonymous")  # a signed-in caller's new account is not theirs
    row = await conduit.conn.fetchrow("SELECT hashed_password, role FROM users WHERE username = 'newcomer'")
    assert row["role"] == "user"
    assert verify_password("correct horse 9!", row["hashed_password"])[0]


async def test_sign_up_by_anonymous_then_by_a_signed_in_caller_runs_each_callers_statement(
    conduit: ApiClient, world: World
) -> None:
    """A statement compiled for one kind of caller is never reused for the other (no session check / a
    check that refuses NULL parameters)."""
    first = await conduit.post("/api/users", json=SIGN_UP)
    assert first.status_code == 201, first.text
    second = {
        "user": {"username": "second", "email": "second@conduit.example.com", "password": "another one 7?"}
    }
    signed_in = await conduit.post("/api/users", json=second, headers=world.as_("jane"))
    assert signed_in.status_code == 201, signed_in.text
    third = {
        "user": {"username": "third", "email": "third@conduit.example.com", "password": "and a third 5$"}
    }
    assert (await conduit.post("/api/users", json=third)).status_code == 201
    assert await conduit.conn.fetchval("SELECT count(*) FROM users") == 6


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"email": "jake@conduit.example.com"}, 409, "email"),
        (
            {"email": "JAKE@conduit.example.com"},
            409,
            "already exists",
        ),  # taken up to case (an expression index)
        ({"username": "jake"}, 409, "username"),
        ({"password": "short"}, 422, "password"),
        ({"email": "not-an-email"}, 422, "user.email"),
        ({"username": "has space"}, 422, "user.username"),
        ({"role": "admin"}, 422, "user.role"),  # never from the body
    ],
)
async def test_sign_up_refuses_taken_names_and_bad_fields(
    conduit: ApiClient, world: World, change: dict[str, Any], status: int, message: str
) -> None:
    body = {"user": SIGN_UP["user"] | change}
    response = await conduit.post("/api/users", json=body)
    assert response.status_code == status, response.text
    assert any(message in m for m in errors(response)), errors(response)
    assert await conduit.conn.fetchval("SELECT count(*) FROM users") == 3


async def test_users_collection_offers_only_sign_up(conduit: ApiClient, world: World) -> None:
    listed = await conduit.get("/api/users", headers=world.as_("jake"))
    assert listed.status_code == 405
    assert listed.headers["allow"] == "POST"
    assert errors(listed)
    assert (await conduit.get("/api/users/jake")).status_code == 404


@pytest.mark.parametrize("who", ["jake", "bob"])
async def test_current_user_is_the_callers_own_account_in_one_statement(
    conduit: ApiClient, world: World, who: str
) -> None:
    response = await conduit.get("/api/user", headers=world.as_(who))
    assert response.status_code == 200, response.text
    assert conduit.queries.count == 1  # the token is signed after the statement, with no SQL
    user = response.json()["user"]
    assert isinstance(user.pop("token"), str)
    assert user == {"email": f"{who}@conduit.example.com", "username": who, "bio": None, "image": None}


async def test_current_user_refuses_anonymous_and_other_methods(conduit: ApiClient, world: World) -> None:
    anonymous = await conduit.get("/api/user")
    assert anonymous.status_code == 401
    assert errors(anonymous)
    assert (await conduit.put("/api/user", json={"user": {"bio": "x"}})).status_code == 401
    for method in ("PATCH", "DELETE", "POST"):
        refused = await conduit.request(method, "/api/user", json={"user": {}}, headers=world.as_("jake"))
        assert refused.status_code == 405, method
        assert refused.headers["allow"] == "GET, HEAD, PUT"


async def test_update_current_user_changes_only_the_callers_account(conduit: ApiClient, world: World) -> None:
    body = {"user": {"bio": "I like to skateboard", "image": "https://i.example.com/jake.png"}}
    response = await conduit.put("/api/user", json=body, headers=world.as_("jake"))
    assert response.status_code == 200, response.text
    assert conduit.queries.count == 1  # no new password: the token is of the caller's sign-in, no SQL
    user = response.json()["user"]
    assert isinstance(user.pop("token"), str)
    assert user == {
        "email": "jake@conduit.example.com",
        "username": "jake",
        "bio": "I like to skateboard",
        "image": "https://i.example.com/jake.png",
    }
    bios = dict(await conduit.conn.fetch("SELECT username, bio FROM users ORDER BY id"))
    assert bios == {"jake": "I like to skateboard", "jane": None, "bob": None}
    profile = (await conduit.get("/api/profiles/jake")).json()["profile"]
    assert profile["bio"] == "I like to skateboard"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"username": "jane"}, 409),
        ({"email": "bob@conduit.example.com"}, 409),
        ({"email": "nope"}, 422),
        ({"password": "short"}, 422),
        ({"role": "admin"}, 422),
        ({"username": None}, 422),
    ],
)
async def test_update_current_user_refuses_taken_and_invalid_fields(
    conduit: ApiClient, world: World, change: dict[str, Any], status: int
) -> None:
    response = await conduit.put("/api/user", json={"user": change}, headers=world.as_("jake"))
    assert response.status_code == status, response.text
    assert errors(response)
    row = await conduit.conn.fetchrow(
        "SELECT username, email, role FROM users WHERE id = $1", world.ids["jake"]
    )
    assert tuple(row) == ("jake", "jake@conduit.example.com", "user")


async def test_new_password_is_hashed_and_ends_the_callers_sign_ins(conduit: ApiClient, world: World) -> None:
    jake = world.as_("jake")
    response = await conduit.put("/api/user", json={"user": {"password": "a new secret 42!"}}, headers=jake)
    assert response.status_code == 200, response.text
    stored = await conduit.conn.fetchval("SELECT hashed_password FROM users WHERE id = $1", world.ids["jake"])
    assert verify_password("a new secret 42!", stored)[0]
    assert (await conduit.get("/api/user", headers=jake)).status_code == 401  # sign in again


@pytest.mark.parametrize(
    ("who", "following"), [("anonymous", False), ("jake", False), ("jane", True), ("bob", False)]
)
async def test_profile_shows_whether_the_caller_follows(
    conduit: ApiClient, world: World, who: str, following: bool
) -> None:
    response = await conduit.get("/api/profiles/jake", headers=world.as_(who))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "profile": {"username": "jake", "bio": None, "image": None, "following": following}
    }
    assert conduit.queries.count == 1


async def test_profile_errors_404_422_405(conduit: ApiClient, world: World) -> None:
    missing = await conduit.get("/api/profiles/nobody")
    assert missing.status_code == 404
    assert errors(missing) == ["User nobody not found"]
    assert (await conduit.get("/api/profiles/" + "x" * 51)).status_code == 422
    changed = await conduit.put("/api/profiles/jake", json={"profile": {}}, headers=world.as_("jake"))
    assert changed.status_code == 405
    assert changed.headers["allow"] == "GET, HEAD"
    assert (await conduit.delete("/api/profiles/jake", headers=world.as_("jake"))).status_code == 405
    assert (await conduit.get("/api/profiles")).status_code == 404


async def test_follow_and_unfollow_answer_the_profile_in_one_statement_each(
    conduit: ApiClient, world: World
) -> None:
    bob = world.as_("bob")
    followed = await conduit.post("/api/profiles/jake/follow", headers=bob)
    assert followed.status_code == 200, followed.text
    assert followed.json()["profile"] == {"username": "jake", "bio": None, "image": None, "following": True}
    feed = (await conduit.get("/api/articles/feed", headers=bob)).json()
    assert [a["slug"] for a in feed["articles"]] == ["second-flight", "how-to-train"]
    again = await conduit.post("/api/profiles/jake/follow", headers=bob)
    assert again.json()["profile"]["following"] is True
    unfollowed = await conduit.delete("/api/profiles/jake/follow", headers=bob)
    assert unfollowed.json()["profile"]["following"] is False
    assert conduit.queries.count == 4
    jane_still = await conduit.get("/api/profiles/jake", headers=world.as_("jane"))
    assert jane_still.json()["profile"]["following"] is True


async def test_follow_refusals(conduit: ApiClient, world: World) -> None:
    anonymous = await conduit.post("/api/profiles/jake/follow")
    assert anonymous.status_code == 401
    assert errors(anonymous)
    missing = await conduit.post("/api/profiles/nobody/follow", headers=world.as_("bob"))
    assert missing.status_code == 404
    itself = await conduit.post("/api/profiles/jake/follow", headers=world.as_("jake"))
    assert itself.status_code == 422  # the follows table's check: nobody follows themselves
    assert errors(itself)
    assert await conduit.conn.fetchval("SELECT count(*) FROM follows") == 1


async def test_comments_listed_created_and_deleted_under_their_article(
    conduit: ApiClient, world: World
) -> None:
    bob, jake = world.as_("bob"), world.as_("jake")
    created = await conduit.post(
        "/api/articles/how-to-train/comments", json={"comment": {"body": "Thank you so much!"}}, headers=bob
    )
    assert created.status_code == 201, created.text
    assert conduit.queries.count == 1
    comment = created.json()["comment"]
    assert set(comment) == {"id", "createdAt", "updatedAt", "body", "author"}
    assert comment["author"] == {"username": "bob", "bio": None, "image": None, "following": False}
    assert created.headers["location"] == f"/api/articles/how-to-train/comments/{comment['id']}"
    stored = await conduit.conn.fetchrow(
        "SELECT article_id, author_id FROM comments WHERE id = $1", comment["id"]
    )
    assert tuple(stored) == (world.ids["how-to-train"], world.ids["bob"])
    conduit.queries.reset()
    for who in ("anonymous", "jake", "bob"):
        listed = await conduit.get("/api/articles/how-to-train/comments", headers=world.as_(who))
        assert listed.status_code == 200
        assert [c["id"] for c in listed.json()["comments"]] == [comment["id"]]
    assert conduit.queries.count == 3
    assert (await conduit.get("/api/articles/second-flight/comments")).json() == {"comments": []}
    path = f"/api/articles/how-to-train/comments/{comment['id']}"
    assert (await conduit.delete(path)).status_code == 401
    refused = await conduit.delete(path, headers=jake)  # the article's author is not the comment's
    assert refused.status_code == 403
    assert errors(refused)
    elsewhere = await conduit.delete(f"/api/articles/second-flight/comments/{comment['id']}", headers=bob)
    assert elsewhere.status_code == 404
    conduit.queries.reset()
    assert (await conduit.delete(path, headers=bob)).status_code == 204
    assert conduit.queries.count == 1
    assert (await conduit.delete(path, headers=bob)).status_code == 404


async def test_comment_refusals(conduit: ApiClient, world: World) -> None:
    bob = world.as_("bob")
    url = "/api/articles/how-to-train/comments"
    assert (await conduit.post(url, json={"comment": {"body": "hi"}})).status_code == 401
    empty = await conduit.post(url, json={"comment": {"body": ""}}, headers=bob)
    assert empty.status_code == 422
    assert errors(empty)
    smuggled = {"comment": {"body": "x", "article_id": world.ids["bobs-notes"]}}
    assert (await conduit.post(url, json=smuggled, headers=bob)).status_code == 422
    missing = await conduit.post(
        "/api/articles/nothing/comments", json={"comment": {"body": "x"}}, headers=bob
    )
    assert missing.status_code == 404
    assert errors(missing) == ["Article nothing not found"]
    assert (await conduit.get("/api/articles/nothing/comments")).status_code == 404
    assert await conduit.conn.fetchval("SELECT count(*) FROM comments") == 0
    one = await conduit.get(f"{url}/1", headers=bob)
    assert one.status_code == 405  # RealWorld has no endpoint for one comment
    assert one.headers["allow"] == "DELETE"
    assert (await conduit.get(f"{url}/x", headers=bob)).status_code in (404, 405, 422)


async def test_tags_list_every_name_once_in_one_statement(conduit: ApiClient, world: World) -> None:
    for who in ("anonymous", "jake"):
        response = await conduit.get("/api/tags", headers=world.as_(who))
        assert response.status_code == 200
        assert response.json() == {"tags": ["dragons", "notes", "training"]}
    assert conduit.queries.count == 2
    assert (
        await conduit.post("/api/tags", json={"tag": {"name": "x"}}, headers=world.as_("jake"))
    ).status_code == 405


async def test_tags_and_comments_come_whole_beyond_the_article_page_size(
    conduit: ApiClient, world: World
) -> None:
    await conduit.conn.execute("INSERT INTO tags (name) SELECT 'extra-' || i FROM generate_series(10, 44) i")
    await conduit.conn.execute(
        "INSERT INTO comments (body, article_id, author_id)"
        " SELECT 'c' || i, $1, $2 FROM generate_series(1, 30) i",
        world.ids["how-to-train"],
        world.ids["bob"],
    )
    conduit.queries.reset()
    assert len((await conduit.get("/api/tags")).json()["tags"]) == 38
    assert len((await conduit.get("/api/articles/how-to-train/comments")).json()["comments"]) == 30
    assert len((await conduit.get("/api/articles")).json()["articles"]) == 3
    assert conduit.queries.count == 3
