"""The guide's transaction snippet, `atomic` and `run_in_transaction`, with real commits.

These tests commit for real, on a database of this module's own, and look at the outcome through a separate
connection: a rolled-back test transaction would hide exactly what they check.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.config.settings import get_settings
from app.controllers.base_controller import atomic, run_in_transaction
from app.controllers.category import category_controller
from app.controllers.product import product_controller
from app.models import Category, Product
from app.models.base import BaseModel
from app.schemas.category import CategoryCreate
from app.schemas.product import ProductCreate
from pgbe.db.database import Database, libpq_dsn
from pgbe.errors import ConflictError
from pgbe.testing.databases import TestServer


@pytest.fixture(scope="module")
def _committed_database(test_server: TestServer) -> Iterator[Database]:
    url = test_server.create_database("pgbe_tx")
    database = Database(get_settings(), url=url)
    BaseModel.metadata.create_all(database.engine)
    yield database
    database.engine.dispose()
    test_server.drop_database(url)


@pytest.fixture
def committed(_committed_database: Database) -> Database:
    """A database of this module's own with the app's tables, emptied before each test."""
    tables = ", ".join(t.name for t in BaseModel.metadata.sorted_tables)
    with _committed_database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return _committed_database


def _query(database: Database, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run `sql` on a new connection of its own: it sees only what was committed."""
    with psycopg.connect(libpq_dsn(database.url)) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def _products(database: Database) -> list[tuple[Any, ...]]:
    return _query(database, "SELECT id, name, price FROM products ORDER BY id")


def _seed_product_one(database: Database) -> None:
    with database.SessionLocal() as setup:
        setup.add(Product(name="Existing", price=100))
        setup.commit()
    assert _products(database) == [(1, "Existing", 100)]


def test_guide_transaction_snippet_commit_path_persists_every_write(committed: Database) -> None:
    _seed_product_one(committed)
    db = committed.SessionLocal()

    # Start a transaction
    try:
        # Perform multiple operations
        db_obj = Product(name="New Product", price=100)
        db.add(db_obj)

        # Update another record
        other_obj = db.query(Product).filter(Product.id == 1).first()
        other_obj.price = 200
        db.add(other_obj)

        # Commit the transaction
        db.commit()
    except Exception as e:
        # Rollback on error
        db.rollback()
        raise e
    finally:
        db.close()

    assert _products(committed) == [(1, "Existing", 200), (2, "New Product", 100)]


def test_guide_transaction_snippet_failing_commit_leaves_nothing(committed: Database) -> None:
    _seed_product_one(committed)

    def guide_snippet(db: Session) -> None:
        # Start a transaction
        try:
            # Perform multiple operations
            db_obj = Product(name="New Product", price=100, category_id=424242)  # no such category
            db.add(db_obj)

            # Update another record
            other_obj = db.query(Product).filter(Product.id == 1).first()
            other_obj.price = 200
            db.add(other_obj)

            # Commit the transaction
            db.commit()
        except Exception as e:
            # Rollback on error
            db.rollback()
            raise e

    with committed.SessionLocal() as db, pytest.raises(IntegrityError):
        guide_snippet(db)

    assert _products(committed) == [(1, "Existing", 100)]


def test_guide_transaction_snippet_failure_after_writes_reached_the_server_leaves_nothing(
    committed: Database,
) -> None:
    _seed_product_one(committed)
    seen_inside: list[tuple[Any, ...]] = []

    def guide_snippet(db: Session) -> None:
        # Start a transaction
        try:
            # Perform multiple operations
            db_obj = Product(name="New Product", price=100)
            db.add(db_obj)

            # Update another record
            other_obj = db.query(Product).filter(Product.id == 1).first()
            other_obj.price = 200
            db.add(other_obj)

            db.flush()  # both statements now ran inside the transaction ...
            seen_inside.extend(db.execute(select(Product.name, Product.price).order_by(Product.id)).all())
            raise RuntimeError("payment service down")  # ... and then something fails

            # Commit the transaction
            db.commit()
        except Exception as e:
            # Rollback on error
            db.rollback()
            raise e

    with committed.SessionLocal() as db, pytest.raises(RuntimeError, match="payment service down"):
        guide_snippet(db)

    assert seen_inside == [("Existing", 200), ("New Product", 100)]
    assert _products(committed) == [(1, "Existing", 100)]


def test_controller_writes_commit_by_default(committed: Database) -> None:
    with committed.SessionLocal() as db:
        category_controller.create(db, obj_in=CategoryCreate(name="Books"))
        with pytest.raises(ConflictError):
            category_controller.create(db, obj_in=CategoryCreate(name="Books"))

    assert _query(committed, "SELECT name FROM categories") == [("Books",)]


def test_atomic_commits_several_controller_writes_together(committed: Database) -> None:
    with committed.SessionLocal() as db, atomic(db):
        books = category_controller.create(db, obj_in=CategoryCreate(name="Books"))
        product_controller.create(db, obj_in=ProductCreate(name="Novel", price=20, category_id=books.id))
        assert _query(committed, "SELECT count(*) FROM categories") == [(0,)]  # not yet committed

    assert _query(committed, "SELECT name FROM categories") == [("Books",)]
    assert [(name, price) for _, name, price in _products(committed)] == [("Novel", 20)]


def test_atomic_failure_in_the_middle_writes_nothing(committed: Database) -> None:
    def shelve_books(db: Session) -> None:
        with atomic(db):
            books = category_controller.create(db, obj_in=CategoryCreate(name="Books"))
            product_controller.create(db, obj_in=ProductCreate(name="Novel", price=20, category_id=books.id))
            category_controller.create(db, obj_in=CategoryCreate(name="Books"))  # duplicate
            product_controller.create(db, obj_in=ProductCreate(name="Never", price=1))

    with committed.SessionLocal() as db:
        with pytest.raises(ConflictError) as exc:
            shelve_books(db)
        assert exc.value.field == "name"
        assert category_controller.count(db) == 0  # the session is usable again

    assert _query(committed, "SELECT count(*) FROM categories") == [(0,)]
    assert _products(committed) == []


def test_atomic_nested_block_commits_only_with_the_outer_one(committed: Database) -> None:
    def nested(db: Session) -> None:
        with atomic(db):
            with atomic(db):
                category_controller.create(db, obj_in=CategoryCreate(name="Inner"))
            assert _query(committed, "SELECT count(*) FROM categories") == [(0,)]
            raise RuntimeError("outer block fails")

    with committed.SessionLocal() as db, pytest.raises(RuntimeError, match="outer block fails"):
        nested(db)

    assert _query(committed, "SELECT count(*) FROM categories") == [(0,)]


@pytest.fixture
def serializable(committed: Database) -> Iterator[sessionmaker[Session]]:
    engine = committed.make_engine(committed.url, isolation_level="SERIALIZABLE")
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


def test_run_in_transaction_retries_a_serialization_failure(
    committed: Database, serializable: sessionmaker[Session]
) -> None:
    _seed_product_one(committed)
    attempts: list[int] = []

    def double_price(db: Session) -> int:
        attempts.append(1)
        price = db.scalar(select(Product.price).where(Product.id == 1))  # the snapshot is taken here
        assert price is not None
        if len(attempts) == 1:  # another client changes the row and commits in between
            with psycopg.connect(libpq_dsn(committed.url), autocommit=True) as other:
                other.execute("UPDATE products SET price = price + 1 WHERE id = 1")
        db.execute(update(Product.__table__).where(Product.__table__.c.id == 1).values(price=price * 2))
        return price * 2

    result = run_in_transaction(serializable, double_price, backoff=0)

    assert len(attempts) == 2
    assert result == 202
    assert _products(committed) == [(1, "Existing", 202)]


def test_run_in_transaction_gives_up_after_the_retries(
    committed: Database, serializable: sessionmaker[Session]
) -> None:
    _seed_product_one(committed)
    attempts: list[int] = []

    def always_conflicts(db: Session) -> None:
        attempts.append(1)
        db.scalar(select(Product.price).where(Product.id == 1))
        with psycopg.connect(libpq_dsn(committed.url), autocommit=True) as other:
            other.execute("UPDATE products SET price = price + 1 WHERE id = 1")
        db.execute(update(Product.__table__).where(Product.__table__.c.id == 1).values(price=0))

    with pytest.raises(ConflictError, match="concurrent"):
        run_in_transaction(serializable, always_conflicts, retries=2, backoff=0)

    assert len(attempts) == 3
    assert _products(committed) == [(1, "Existing", 103)]


def test_run_in_transaction_does_not_retry_other_errors(
    committed: Database, serializable: sessionmaker[Session]
) -> None:
    attempts: list[int] = []

    def duplicate(db: Session) -> None:
        attempts.append(1)
        db.add_all([Category(name="Books"), Category(name="Books")])
        db.flush()

    with pytest.raises(ConflictError) as exc:
        run_in_transaction(serializable, duplicate, backoff=0)

    assert exc.value.field == "name"
    assert len(attempts) == 1
    assert _query(committed, "SELECT count(*) FROM categories") == [(0,)]
