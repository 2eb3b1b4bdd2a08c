"""E6's data: the Conduit example's own database, created, migrated, loaded and dropped.

Conduit (`examples/conduit`) is a second pgbe project, with its own tables. Its reader signs in like
any RealWorld client, through `POST /api/users/login`, and the benchmark uses the token it answers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from bench.dataset import LOADED_AT, BenchDatabase, create_database
from pgbe.auth.passwords import hash_password

ROOT = Path(__file__).resolve().parents[1] / "examples" / "conduit"
USERS = 1_000
ARTICLES = 10_000
TAGS = 200
TAGS_PER_ARTICLE = 3
READER = 1  # the signed-in caller: follows every fifth user, has favorited every third article
READER_EMAIL = "user1@bench.example.com"
READER_PASSWORD = "bench-reader-password-1"  # the benchmark's own throwaway account


def create() -> BenchDatabase:
    """Create, migrate and load Conduit's benchmark database."""
    db = create_database("pgbe_bench_conduit")
    url = db.url
    try:
        migrate(url)
        load(url)
    except BaseException:
        db.drop()
        raise
    return db


def migrate(url: str) -> None:
    """Upgrade the database to Conduit's head revision (its own Alembic environment)."""
    from alembic import command

    from pgbe.migrations import alembic_config

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # the environment imports the `conduit` package
    # Conduit's settings read CONDUIT_*: its migration runs in the environment the caller chose for the
    # repository's own (`make bench` chooses development), never silently in another one.
    os.environ.setdefault("CONDUIT_ENVIRONMENT", os.environ.get("ENVIRONMENT", "production"))
    command.upgrade(alembic_config(ROOT, url=url), "head")


def load(url: str) -> None:
    """Users, tags, articles (three tags each, distinct times), follows and favorites, set-based."""
    params = {"users": USERS, "articles": ARTICLES, "tags": TAGS, "per": TAGS_PER_ARTICLE, "at": LOADED_AT}
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO users (email, username, bio, hashed_password)"
            " SELECT 'user' || i || '@bench.example.com', 'user' || i,"
            " CASE WHEN i %% 2 = 0 THEN 'Writer number ' || i END, '!'"
            " FROM generate_series(1, %(users)s) AS i",
            params,
        )
        conn.execute(
            "INSERT INTO tags (name) SELECT 'tag-' || i FROM generate_series(1, %(tags)s) AS i", params
        )
        conn.execute(
            "INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at)"
            " SELECT 'article-' || i, 'Article ' || i, 'What article ' || i || ' is about',"
            " 'The text of article ' || i, 2 + i %% (%(users)s - 1),"
            " %(at)s::timestamptz + make_interval(mins => i), %(at)s::timestamptz + make_interval(mins => i)"
            " FROM generate_series(1, %(articles)s) AS i",
            params,
        )
        conn.execute(
            "INSERT INTO article_tags (article_id, tag_id) SELECT a, 1 + ((a + k * 67) %% %(tags)s)"
            " FROM generate_series(1, %(articles)s) AS a, generate_series(0, %(per)s - 1) AS k",
            params,
        )
        conn.execute(
            "INSERT INTO follows (follower_id, followed_id)"
            " SELECT 1, u FROM generate_series(5, %(users)s, 5) AS u",
            params,
        )
        conn.execute(
            "INSERT INTO favorites (article_id, user_id)"
            " SELECT a, 2 + (a * 31 + k) %% (%(users)s - 1) FROM generate_series(1, %(articles)s) AS a,"
            " generate_series(0, a %% 7 - 1) AS k"
            " UNION SELECT a, 1 FROM generate_series(3, %(articles)s, 3) AS a",
            params,
        )
        conn.execute("UPDATE users SET created_at = %(at)s, updated_at = %(at)s", params)
        conn.execute(
            "UPDATE users SET hashed_password = %s WHERE id = %s", (hash_password(READER_PASSWORD), READER)
        )
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("users", "tags", "articles", "article_tags", "follows", "favorites"):
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


def reset_writes(url: str) -> None:
    """E6 only reads; nothing to undo."""
    del url


def reader_token(base_url: str) -> tuple[str | None, str]:
    """Sign the reader in through Conduit's `POST /api/users/login`; return its token or why there is none."""
    body = {"user": {"email": READER_EMAIL, "password": READER_PASSWORD}}
    response = httpx.post(f"{base_url}/api/users/login", json=body, timeout=30)
    if response.status_code != 200:
        return None, f"Conduit's sign-in answered {response.status_code}: {response.text[:200]}"
    token: str = response.json()["user"]["token"]
    return token, ""
