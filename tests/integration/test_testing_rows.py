"""`pgbe.testing.rows.insert_row`: required columns filled from the catalog, required references followed."""

from __future__ import annotations

import uuid

import pytest

from pgbe.testing.api import ApiClient
from pgbe.testing.rows import RowError, insert_row

SCHEMA = """
CREATE TYPE rows_mood AS ENUM ('calm', 'busy');
CREATE TABLE rows_authors (
    id serial PRIMARY KEY, code varchar(6) NOT NULL UNIQUE, mood rows_mood NOT NULL,
    seen_at timestamptz NOT NULL, rank int NOT NULL UNIQUE, email varchar(320) NOT NULL UNIQUE, note text
);
CREATE TABLE rows_articles (
    id bigserial PRIMARY KEY, author_id int NOT NULL REFERENCES rows_authors, title text NOT NULL,
    published boolean NOT NULL DEFAULT false, editor_id int REFERENCES rows_authors
);
CREATE TABLE rows_comments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), article_id bigint NOT NULL REFERENCES rows_articles,
    author_id int NOT NULL REFERENCES rows_authors, body text NOT NULL
);
"""


@pytest.fixture
async def schema(api: ApiClient) -> ApiClient:
    await api.conn.execute(SCHEMA)  # inside the test's transaction: rolled back with it
    return api


async def test_a_chain_of_required_references_is_one_call(schema: ApiClient) -> None:
    comment = await insert_row(schema.conn, "rows_comments", body="First!")
    assert isinstance(comment, uuid.UUID)
    row = await schema.conn.fetchrow(
        "SELECT c.body, a.title, a.editor_id, a.published, w.mood::text AS mood, w.note"
        " FROM rows_comments c JOIN rows_articles a ON a.id = c.article_id"
        " JOIN rows_authors w ON w.id = a.author_id WHERE c.id = $1",
        comment,
    )
    assert row is not None
    assert row["body"] == "First!"
    assert row["editor_id"] is None
    assert row["note"] is None
    assert row["published"] is False  # a column with a default keeps it
    assert row["mood"] == "calm"
    # the comment's own author is a row of its own, made for it
    assert await schema.conn.fetchval("SELECT count(*) FROM rows_authors") == 2


async def test_unique_columns_get_new_values_and_given_values_win(schema: ApiClient) -> None:
    first = await insert_row(schema.conn, "rows_authors")
    second = await insert_row(schema.conn, "rows_authors", code="mine", rank=7)
    rows = await schema.conn.fetch("SELECT id, code, rank, email FROM rows_authors ORDER BY id")
    assert [r["id"] for r in rows] == [first, second]
    assert len(rows[0]["code"]) <= 6
    assert rows[1]["code"] == "mine"
    assert rows[1]["rank"] == 7
    assert rows[0]["email"] != rows[1]["email"]
    assert "@" in rows[0]["email"]
    article = await insert_row(schema.conn, "rows_articles", author_id=second)
    assert await schema.conn.fetchval("SELECT author_id FROM rows_articles WHERE id = $1", article) == second


async def test_a_circle_of_required_references_is_refused_with_the_chain(schema: ApiClient) -> None:
    await schema.conn.execute(
        "CREATE TABLE rows_eggs (id serial PRIMARY KEY, hen_id int NOT NULL);"
        "CREATE TABLE rows_hens (id serial PRIMARY KEY, egg_id int NOT NULL REFERENCES rows_eggs);"
        "ALTER TABLE rows_eggs ADD FOREIGN KEY (hen_id) REFERENCES rows_hens"
    )
    with pytest.raises(RowError, match=r"rows_eggs -> rows_hens -> rows_eggs"):
        await insert_row(schema.conn, "rows_eggs")


async def test_an_unknown_table_is_refused(api: ApiClient) -> None:
    with pytest.raises(RowError, match="no table 'rows_nothing'"):
        await insert_row(api.conn, "rows_nothing")


async def test_the_app_users_table_needs_no_column_named_by_the_test(api: ApiClient) -> None:
    user = await insert_row(api.conn, "users")
    assert await api.conn.fetchval("SELECT count(*) FROM users WHERE id = $1", user) == 1
