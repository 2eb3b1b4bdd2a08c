"""Models written in the guide's `Column(...)` style work on pgbe's base.

The guide's snippets are copied as written onto a test-only declarative base built from pgbe's
ModelMixin and make_metadata (named `BaseModel` here, as in the guide). Their tables are created in a
schema of their own inside the test's transaction, so the app's migrated tables are untouched.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, relationship

from pgbe.models import ModelMixin, make_metadata

SCHEMA = "pgbe_guide_column_style"


class BaseModel(ModelMixin, DeclarativeBase):
    """Stand-in for app.models.base.BaseModel, with metadata of its own."""

    __abstract__ = True
    metadata = make_metadata()


# --- the guide's snippets, as written ---------------------------------------------------------
class Product(BaseModel):
    """Product model."""

    name = Column(String(100), nullable=False, index=True)
    description = Column(String(500), nullable=True)
    price = Column(Integer, nullable=False)

    # Define relationships
    category_id = Column(Integer, ForeignKey("categories.id"))
    category = relationship("Category", back_populates="products")

    # In Product model
    tags = relationship("Tag", secondary="product_tags", back_populates="products")

    # Or create a composite index
    __table_args__ = (Index("idx_name_price", "name", "price"),)


class Category(BaseModel):
    name = Column(String(100), nullable=False, unique=True)

    # In Category model
    products = relationship("Product", back_populates="category")


# Association table
product_tag = Table(
    "product_tags",
    BaseModel.metadata,
    Column("product_id", Integer, ForeignKey("products.id")),
    Column("tag_id", Integer, ForeignKey("tags.id")),
)


class Tag(BaseModel):
    name = Column(String(50), nullable=False)

    # In Tag model
    products = relationship("Product", secondary=product_tag, back_populates="tags")


class User(BaseModel):
    email = Column(String(320), nullable=False, unique=True)

    # In User model
    profile = relationship("Profile", uselist=False, back_populates="user")


class Profile(BaseModel):
    # In Profile model
    user_id = Column(Integer, ForeignKey("users.id"), unique=True)
    user = relationship("User", back_populates="profile")


# -----------------------------------------------------------------------------------------------


@pytest.fixture
def guide_db(db: Session) -> Session:
    """The test session, with the guide's tables created in a schema of their own."""
    db.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    db.execute(text(f"SET LOCAL search_path TO {SCHEMA}"))
    BaseModel.metadata.create_all(db.connection())
    return db


def test_column_style_tables_are_created_with_inflected_names(guide_db: Session) -> None:
    tables = set(
        guide_db.scalars(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"), {"s": SCHEMA}
        )
    )
    assert tables == {"products", "categories", "product_tags", "tags", "users", "profiles"}
    indexes = set(
        guide_db.scalars(text("SELECT indexname FROM pg_indexes WHERE schemaname = :s"), {"s": SCHEMA})
    )
    assert {"idx_name_price", "ix_products_name", "pk_products", "uq_profiles_user_id"} <= indexes


def test_column_style_product_round_trips_with_audit_columns(guide_db: Session) -> None:
    guide_db.add(Product(name="Lamp", description="Warm light", price=25, category=Category(name="Home")))
    guide_db.commit()
    guide_db.expire_all()

    product = guide_db.scalars(select(Product).where(Product.name == "Lamp")).one()

    assert (product.description, product.price, product.category.name) == ("Warm light", 25, "Home")
    assert product.id is not None
    assert product.created_at.tzinfo is not None
    assert product.updated_at.tzinfo is not None
    assert [p.name for p in product.category.products] == ["Lamp"]
    assert repr(product).startswith(f"<Product id={product.id} name='Lamp'")


def test_column_style_many_to_many_add_and_remove(guide_db: Session) -> None:
    sale = Tag(name="sale")
    lamp = Product(name="Lamp", price=25, tags=[sale])
    guide_db.add(lamp)
    guide_db.commit()
    assert [p.name for p in sale.products] == ["Lamp"]

    sale.products.remove(lamp)
    guide_db.commit()
    guide_db.expire_all()

    assert lamp.tags == []
    assert guide_db.scalar(text("SELECT count(*) FROM product_tags")) == 0


def test_column_style_one_to_one_is_scalar_and_unique(guide_db: Session) -> None:
    user = User(email="ada@example.com", profile=Profile())
    guide_db.add(user)
    guide_db.commit()
    assert inspect(user.profile).persistent
    assert user.profile.user is user

    savepoint = guide_db.begin_nested()
    guide_db.add(Profile(user_id=user.id))
    with pytest.raises(IntegrityError, match="uq_profiles_user_id"):
        guide_db.flush()
    savepoint.rollback()
