"""Fixtures of the Conduit example's tests: its own migrated database, its app and its callers.

Conduit (`examples/conduit`) is a second pgbe project with its own models and migrations, so it gets
a database of its own on the run's server, migrated by its own Alembic environment. Its settings
read CONDUIT_* variables, set here before the application is imported.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pgbe.testing.api import ApiClient
from pgbe.testing.databases import TestServer

CONDUIT_ROOT = Path(__file__).resolve().parents[1] / "examples" / "conduit"


@pytest.fixture(scope="session")
def conduit_app(test_server: TestServer) -> Any:
    """Conduit's application, on a database created and migrated for this run."""
    from alembic import command

    from pgbe.migrations import alembic_config

    url = test_server.create_database("conduit_test")
    os.environ["CONDUIT_DATABASE_URL"] = url
    os.environ["CONDUIT_ENVIRONMENT"] = "test"
    os.environ.setdefault("CONDUIT_SECRET_KEY", secrets.token_urlsafe(48))
    command.upgrade(alembic_config(CONDUIT_ROOT, url=url), "head")
    from conduit.main import app

    return app


@pytest.fixture
async def conduit(conduit_app: Any) -> AsyncIterator[ApiClient]:
    """An HTTP client on Conduit whose database work is one transaction rolled back after the test."""
    from conduit.database import database

    from pgbe.testing.api import rolled_back_client

    async with rolled_back_client(conduit_app, database) as client:
        yield client


@dataclass
class World:
    """Three users and what they did: jake wrote two articles, jane follows him and favorited one."""

    ids: dict[str, int]
    headers: dict[str, dict[str, str]]

    def as_(self, who: str) -> dict[str, str]:
        """The Authorization header of `who` (`anonymous`: none)."""
        return self.headers[who]


async def add_user(conn: Any, username: str) -> int:
    """Insert an account (no password anyone knows) and return its id."""
    user_id: int = await conn.fetchval(
        "INSERT INTO users (email, username, hashed_password) VALUES ($1, $2, '!') RETURNING id",
        f"{username}@conduit.example.com",
        username,
    )
    return user_id


async def add_article(
    conn: Any, slug: str, author: int, *, tags: tuple[str, ...] = (), days_ago: int = 0
) -> int:
    """Insert an article written `days_ago` days ago, with its tags (created when missing)."""
    article_id: int = await conn.fetchval(
        "INSERT INTO articles (slug, title, description, body, author_id, created_at)"
        " VALUES ($1::text, initcap($1::text), 'about ' || $1::text, 'text of ' || $1::text, $2,"
        " now() - make_interval(days => $3))"
        " RETURNING id",
        slug,
        author,
        days_ago,
    )
    for tag in tags:
        tag_id = await conn.fetchval(
            "INSERT INTO tags (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name"
            " RETURNING id",
            tag,
        )
        await conn.execute("INSERT INTO article_tags VALUES ($1, $2)", article_id, tag_id)
    return article_id


@pytest.fixture
def conduit_bearer(conduit: ApiClient) -> Callable[[int], dict[str, str]]:
    """Return `bearer(user_id)`: a header with a valid access token of that (existing) account."""
    from conduit.database import auth

    from pgbe.testing.principals import Bearer

    issue = Bearer(auth.codec, conduit, conduit.conn)
    return lambda user_id: issue(user_id, "user")


@pytest.fixture
async def world(conduit: ApiClient, conduit_bearer: Callable[[int], dict[str, str]]) -> World:
    """jake (two articles, one tagged dragons), jane (follows jake, favorited `how-to-train`), bob."""
    conn = conduit.conn
    ids = {name: await add_user(conn, name) for name in ("jake", "jane", "bob")}
    await conn.execute("INSERT INTO follows VALUES ($1, $2)", ids["jane"], ids["jake"])
    ids["how-to-train"] = await add_article(
        conn, "how-to-train", ids["jake"], tags=("dragons", "training"), days_ago=2
    )
    ids["second-flight"] = await add_article(conn, "second-flight", ids["jake"], days_ago=1)
    ids["bobs-notes"] = await add_article(conn, "bobs-notes", ids["bob"], tags=("notes",))
    await conn.execute("INSERT INTO favorites VALUES ($1, $2)", ids["how-to-train"], ids["jane"])
    headers = {name: conduit_bearer(ids[name]) for name in ("jake", "jane", "bob")}
    conduit.queries.reset()
    return World(ids=ids, headers=headers | {"anonymous": {}})
