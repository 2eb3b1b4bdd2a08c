"""The benchmark's own database: chosen server, created, migrated, loaded, cleaned and dropped."""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from pgbe.db import embedded
from pgbe.db.database import libpq_dsn

ROOT = Path(__file__).resolve().parents[1]
LOCAL_SERVICE = "postgresql://postgres@127.0.0.1:5432/postgres"

CATEGORIES = 50
PRODUCTS = 10_000
TAGS = 200
TAGS_PER_PRODUCT = 3
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench-password-1234"
# Fixed timestamps make every response reproducible, so the rows the write cases touch can be restored.
LOADED_AT = "2026-01-01 00:00:00+00"


@dataclass
class BenchDatabase:
    """A database created for one benchmark run on a PostgreSQL server."""

    admin_url: str
    url: str
    embedded_dir: Path | None = None
    where: str = ""

    def drop(self) -> None:
        """Drop the database and stop an embedded server this run started."""
        name = make_url(self.url).database
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if self.embedded_dir is not None:
            embedded.stop(self.embedded_dir)


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def choose_server() -> tuple[str, Path | None, str]:
    """Return (admin URL, embedded data dir or None, description) of the server to benchmark on."""
    for variable in ("BENCH_DATABASE_URL", "DATABASE_URL"):
        configured = os.environ.get(variable)
        if configured:
            return libpq_dsn(configured), None, variable
    if _reachable(LOCAL_SERVICE):
        return LOCAL_SERVICE, None, "local service 127.0.0.1:5432"
    folder = Path(tempfile.mkdtemp(prefix="pgbe-bench-pg-"))
    return embedded.start(folder, persistent=False), folder, f"embedded PostgreSQL {embedded.version()}"


def create_database(prefix: str) -> BenchDatabase:
    """Create an empty database named `prefix` plus a random suffix on the chosen server."""
    admin_url, folder, where = choose_server()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return BenchDatabase(admin_url=admin_url, url=url, embedded_dir=folder, where=where)


def create() -> BenchDatabase:
    """Create, migrate and load the benchmark database."""
    db = create_database("pgbe_bench")
    url = db.url
    try:
        migrate(url)
        load(url)
    except BaseException:
        db.drop()
        raise
    return db


def migrate(url: str) -> None:
    """Upgrade the database to the head revision with Alembic's command API."""
    from alembic import command

    from pgbe.migrations import alembic_config

    command.upgrade(alembic_config(ROOT, url=url), "head")


def load(url: str) -> None:
    """Load the data set with set-based INSERT ... SELECT generate_series (a second or so)."""
    from pgbe.auth.passwords import hash_password

    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute(
            """
            INSERT INTO categories (name, description)
            SELECT 'Category ' || i, 'Everything about category ' || i
            FROM generate_series(1, %(n)s) AS i
            """,
            {"n": CATEGORIES},
        )
        conn.execute(
            "INSERT INTO tags (name) SELECT 'tag-' || i FROM generate_series(1, %(n)s) AS i", {"n": TAGS}
        )
        conn.execute(
            """
            INSERT INTO products (name, description, price, sku, category_id)
            SELECT 'Product ' || i, 'A fine product, number ' || i, (i * 7919) %% 100000,
                   'SKU-' || lpad(i::text, 6, '0'), 1 + (i %% %(categories)s)
            FROM generate_series(1, %(n)s) AS i
            """,
            {"n": PRODUCTS, "categories": CATEGORIES},
        )
        # Offsets 0, 67, 134 modulo 200 never collide, so every product gets three distinct tags.
        conn.execute(
            """
            INSERT INTO product_tags (product_id, tag_id)
            SELECT p, 1 + ((p + k * 67) %% %(tags)s)
            FROM generate_series(1, %(n)s) AS p, generate_series(0, %(per)s - 1) AS k
            """,
            {"n": PRODUCTS, "tags": TAGS, "per": TAGS_PER_PRODUCT},
        )
        for table in ("categories", "tags", "products"):
            conn.execute(
                sql.SQL("UPDATE {} SET created_at = %(at)s, updated_at = %(at)s").format(
                    sql.Identifier(table)
                ),
                {"at": LOADED_AT},
            )
        conn.execute(
            """
            INSERT INTO users (email, first_name, last_name, hashed_password, role)
            VALUES (%(email)s, 'Bench', 'Staff', %(hash)s, 'staff')
            """,
            {"email": BENCH_EMAIL, "hash": hash_password(BENCH_PASSWORD)},
        )
        conn.commit()
    vacuum(url)


def vacuum(url: str) -> None:
    """VACUUM ANALYZE the catalogue tables so plans and visibility maps are settled."""
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("categories", "tags", "products", "product_tags", "users"):
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


def reset_writes(url: str) -> None:
    """Undo what the write cases did (new rows, patched rows), so every server sees the same data."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM product_tags WHERE product_id > %s", (PRODUCTS,))
        conn.execute("DELETE FROM products WHERE id > %s", (PRODUCTS,))
        conn.execute(
            """
            UPDATE products
            SET name = 'Product ' || id, description = 'A fine product, number ' || id,
                price = (id * 7919) %% 100000, sku = 'SKU-' || lpad(id::text, 6, '0'),
                category_id = 1 + (id %% %(categories)s), version = 1, updated_at = %(at)s
            WHERE version <> 1 OR updated_at <> %(at)s
            """,
            {"categories": CATEGORIES, "at": LOADED_AT},
        )
    vacuum(url)
