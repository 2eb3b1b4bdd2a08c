"""BaseModel on PostgreSQL: audit columns set by the database, constraint names shared with migrations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from app.models import Category, Product
from app.models.base import BaseModel
from pgbe.db.database import with_driver


def test_created_at_and_updated_at_are_set_by_the_database(db: Session) -> None:
    category = Category(name="Books")
    db.add(category)
    db.flush()
    db.refresh(category)

    transaction_start = db.scalar(text("SELECT now()"))  # what the column default evaluates to
    assert category.created_at == transaction_start
    assert category.updated_at == transaction_start
    assert category.created_at.tzinfo is not None


def test_audit_columns_are_timestamptz_with_now_default_in_the_migrated_schema(db: Session) -> None:
    rows = db.execute(
        text(
            "SELECT table_name, column_name, data_type, column_default FROM information_schema.columns"
            " WHERE table_schema = 'public' AND column_name IN ('created_at', 'updated_at')"
        )
    ).all()
    tables = {name for name, table in BaseModel.metadata.tables.items() if "created_at" in table.c}
    assert {r.table_name for r in rows} >= tables
    for row in rows:
        if row.table_name in tables:
            assert row.data_type == "timestamp with time zone", row
            assert row.column_default == "now()", row


@pytest.fixture
def committing_engine(scratch_database: str) -> Iterator[Engine]:
    engine = create_engine(with_driver(scratch_database, "psycopg"))
    BaseModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_updated_at_changes_on_update_and_created_at_does_not(committing_engine: Engine) -> None:
    with Session(committing_engine) as db:
        lamp = Product(name="Lamp", price=25)
        db.add(lamp)
        db.commit()
        created, first_update = lamp.created_at, lamp.updated_at

    with Session(committing_engine) as db:
        stored = db.get_one(Product, lamp.id)
        stored.price = 30
        db.commit()
        db.refresh(stored)

    assert stored.created_at == created
    assert stored.updated_at > first_update
    assert stored.version == 2


def test_constraint_and_index_names_in_database_match_the_naming_convention(db: Session) -> None:
    stored = set(
        db.scalars(
            text(
                "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
                " WHERE n.nspname = 'public'"
                " UNION SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            )
        )
    )
    expected = set()
    for table in BaseModel.metadata.tables.values():
        expected |= {c.name for c in table.constraints if c.name}
        expected |= {i.name for i in table.indexes if i.name}
    expected = {str(name) for name in expected}

    missing = expected - stored
    assert not missing, f"named in the models but not in the migrated database: {sorted(missing)}"
    assert {"pk_products", "fk_products_category_id_categories", "uq_categories_name"} <= stored


def test_no_constraint_of_the_models_tables_has_a_generated_name(db: Session) -> None:
    names = db.scalars(
        # contype 'n': PostgreSQL 18 records NOT NULL as constraints too, always with its own names
        text(
            "SELECT conname FROM pg_constraint"
            " WHERE conrelid::regclass::text = ANY(:tables) AND contype <> 'n'"
        ),
        {"tables": list(BaseModel.metadata.tables)},
    ).all()
    assert names
    generated = [n for n in names if not n.startswith(("pk_", "fk_", "uq_", "ck_", "ix_", "idx_"))]
    assert not generated, f"PostgreSQL-generated names (not from the convention): {generated}"


def test_version_increments_on_each_orm_update(db: Session) -> None:
    category = Category(name="Books")
    db.add(category)
    db.commit()
    category.description = "Paper"
    db.commit()
    assert db.scalar(select(Category.version).where(Category.id == category.id)) == 2
