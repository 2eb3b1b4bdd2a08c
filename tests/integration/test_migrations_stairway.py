"""The whole migration history, one step at a time: up, down, up again, with and without rows."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, pool, text

from pgbe.db.database import with_driver
from pgbe.migrations import alembic_config
from pgbe.testing.migrations import database_revisions

ROOT = Path(__file__).resolve().parents[2]
RENAME, DATA_MIGRATION = "0003", "0004"  # the guide's column rename and data migration


def _history() -> list[Script]:
    """Revisions from base to head."""
    return list(reversed(list(ScriptDirectory.from_config(alembic_config(ROOT)).walk_revisions())))


@pytest.fixture
def engine(scratch_database: str) -> Iterator[Engine]:
    """An engine on the scratch database that keeps no idle connection between statements."""
    engine = create_engine(with_driver(scratch_database, "psycopg"), poolclass=pool.NullPool)
    yield engine
    engine.dispose()


def _schema(conn: Connection) -> dict[str, Any]:
    """Tables with their columns, indexes, unique constraints and foreign keys, comparably."""
    insp = inspect(conn)
    schema: dict[str, Any] = {}
    for table in sorted(set(insp.get_table_names()) - {"alembic_version"}):
        schema[table] = (
            [(c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in insp.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"]), i["unique"]) for i in insp.get_indexes(table)),
            sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)),
            sorted((f["name"], tuple(f["constrained_columns"])) for f in insp.get_foreign_keys(table)),
            insp.get_pk_constraint(table)["name"],
        )
    return schema


def _counts(conn: Connection) -> dict[str, int]:
    tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
    return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}


def _columns(conn: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


def _insert_rows(conn: Connection, step: int) -> None:
    """Add one row to each example table present, using the columns this revision has."""
    tables = set(inspect(conn).get_table_names())
    if "categories" not in tables:
        return
    category = conn.execute(
        text("INSERT INTO categories (name) VALUES (:n) RETURNING id"), {"n": f"category {step}"}
    ).scalar_one()
    user = conn.execute(
        text(
            "INSERT INTO users (email, first_name, last_name, hashed_password)"
            " VALUES (:e, :f, :l, 'x') RETURNING id"
        ),
        {"e": f"user{step}@example.com", "f": f"Ada{step}", "l": f"Lovelace{step}"},
    ).scalar_one()
    text_column = "bio" if "bio" in _columns(conn, "profiles") else "about"
    conn.execute(
        text(f"INSERT INTO profiles (user_id, {text_column}) VALUES (:u, :t)"),
        {"u": user, "t": f"profile text {step}"},
    )
    product = conn.execute(
        text("INSERT INTO products (name, price, category_id) VALUES (:n, 100, :c) RETURNING id"),
        {"n": f"product {step}", "c": category},
    ).scalar_one()
    tag = conn.execute(
        text("INSERT INTO tags (name) VALUES (:n) RETURNING id"), {"n": f"tag {step}"}
    ).scalar_one()
    conn.execute(
        text("INSERT INTO product_tags (product_id, tag_id) VALUES (:p, :t)"), {"p": product, "t": tag}
    )


def _profile_texts(conn: Connection, column: str) -> set[str]:
    return set(conn.execute(text(f"SELECT {column} FROM profiles")).scalars())


def _names(conn: Connection) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in conn.execute(text("SELECT first_name, last_name FROM users"))}


def _check_data_steps(conn: Connection, revision: str, *, applied: bool, expected: dict[str, Any]) -> None:
    """Assert the rename and the data migration kept the rows, in whichever direction just ran."""
    if revision == RENAME:
        column = "bio" if applied else "about"
        assert column in _columns(conn, "profiles")
        assert _profile_texts(conn, column) == expected["profile_texts"]
    if revision == DATA_MIGRATION:
        assert _names(conn) == expected["names"]
        if applied:
            mismatched = conn.execute(
                text(
                    "SELECT count(*) FROM users"
                    " WHERE full_name IS DISTINCT FROM first_name || ' ' || last_name"
                )
            ).scalar_one()
            assert mismatched == 0
        else:
            assert "full_name" not in _columns(conn, "users")


def _stairway(config: Config, engine: Engine, url: str, *, with_rows: bool) -> None:
    previous_schema: dict[str, Any] = {}
    expected: dict[str, Any] = {"profile_texts": set(), "names": set()}
    for step, script in enumerate(_history()):
        revision, down = script.revision, script.down_revision
        command.upgrade(config, revision)
        assert database_revisions(url) == {revision}
        with engine.connect() as conn:
            schema, counts = _schema(conn), _counts(conn)
            _check_data_steps(conn, revision, applied=True, expected=expected)

        command.downgrade(config, "-1")
        assert database_revisions(url) == ({down} if isinstance(down, str) else set())
        with engine.connect() as conn:
            assert _schema(conn) == previous_schema, f"downgrade of {revision} left a different schema"
            kept = _counts(conn)
            assert {t: n for t, n in counts.items() if t in kept} == kept, (
                f"downgrade of {revision} lost rows"
            )
            _check_data_steps(conn, revision, applied=False, expected=expected)

        command.upgrade(config, revision)
        with engine.connect() as conn:
            assert _schema(conn) == schema, f"upgrade of {revision} after its downgrade differs"
            again = _counts(conn)
            assert {t: n for t, n in counts.items() if t in kept} == {t: again[t] for t in kept}
            _check_data_steps(conn, revision, applied=True, expected=expected)
        if with_rows:
            with engine.begin() as conn:
                _insert_rows(conn, step)
                texts = _profile_texts(conn, "bio" if "bio" in _columns(conn, "profiles") else "about")
                expected = {"profile_texts": texts, "names": _names(conn)}
        with engine.connect() as conn:
            previous_schema = _schema(conn)
    if with_rows:
        assert len(expected["names"]) == len(_history())


def test_migration_history_has_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config(ROOT)).get_heads()
    assert len(heads) == 1, f"several heads: {heads}; merge them (alembic merge heads)"


@pytest.mark.parametrize("with_rows", [False, True], ids=["empty", "with-rows"])
def test_migrations_stairway_every_revision_upgrades_downgrades_and_upgrades_again(
    engine: Engine, scratch_database: str, *, with_rows: bool
) -> None:
    config = alembic_config(ROOT, url=scratch_database)
    _stairway(config, engine, scratch_database, with_rows=with_rows)

    command.check(config)  # the models match the migrated schema: no drift
    assert database_revisions(scratch_database) == set(ScriptDirectory.from_config(config).get_heads())


def test_migrations_each_revision_offline_sql_renders_both_ways() -> None:
    for script in _history():
        down = script.down_revision or "base"
        for direction, target in (
            ("upgrade", f"{down}:{script.revision}"),
            ("downgrade", f"{script.revision}:{down}"),
        ):
            buffer = io.StringIO()
            config = alembic_config(ROOT)
            config.output_buffer = buffer
            getattr(command, direction)(config, target, sql=True)
            sql = buffer.getvalue()
            assert f"Running {direction} " in sql
            assert "alembic_version" in sql
            assert sql.rstrip().endswith("COMMIT;")
            assert "SET lock_timeout" in sql
