"""BaseModel machinery: table names, id, audit columns, constraint naming, repr."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import CreateTable

from app.models import Category, Product, Profile, Tag, User, product_tag
from app.models.base import BaseModel
from pgbe.models import ModelMixin, make_metadata


class SampleBase(ModelMixin, DeclarativeBase):
    """A base of its own, so these sample tables never reach the app's metadata."""

    __abstract__ = True
    metadata = make_metadata()


class Person(SampleBase):
    name = Column(String(100), nullable=False)


class ProductTag(SampleBase):
    label: Mapped[str] = mapped_column(String(50))


class ItemCategory(SampleBase):
    name = Column(String(100), nullable=False, unique=True)


class Goods(SampleBase):
    __tablename__ = "stock_items"

    person_id = Column(Integer, ForeignKey("people.id"))
    code = Column(String(20))
    __table_args__ = (UniqueConstraint("person_id", "code"),)


def test_table_name_is_plural_snake_case_of_class_name() -> None:
    assert (Person.__tablename__, ProductTag.__tablename__, ItemCategory.__tablename__) == (
        "people",
        "product_tags",
        "item_categories",
    )


def test_table_name_explicit_dunder_tablename_wins() -> None:
    assert Goods.__table__.name == "stock_items"


def test_app_models_table_names() -> None:
    names = {m.__tablename__ for m in (Product, Category, Tag, User, Profile)}
    assert {"products", "tags", "users", "profiles"} <= names
    assert BaseModel.metadata.tables["categories"].name == "categories"
    assert product_tag.name == "product_tags"
    assert product_tag.metadata is BaseModel.metadata


def test_model_has_integer_id_primary_key_first() -> None:
    columns = list(Person.__table__.columns)
    assert columns[0].name == "id"
    assert columns[0].primary_key
    assert isinstance(columns[0].type, Integer)


def test_audit_columns_are_timezone_aware_and_set_by_the_database() -> None:
    for name in ("created_at", "updated_at"):
        column = Person.__table__.c[name]
        assert isinstance(column.type, DateTime)
        assert column.type.timezone
        assert column.server_default is not None
        assert not column.nullable
    assert Person.__table__.c.updated_at.onupdate is not None
    ddl = str(CreateTable(Person.__table__).compile(dialect=postgresql.dialect()))
    assert "created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL" in ddl


def test_naming_convention_names_every_constraint_deterministically() -> None:
    table = Goods.__table__
    names = {c.name for c in table.constraints} | {i.name for i in table.indexes}
    assert names == {"pk_stock_items", "fk_stock_items_person_id_people", "uq_stock_items_person_id_code"}


def test_app_metadata_constraint_names_follow_the_convention() -> None:
    products = BaseModel.metadata.tables["products"]
    names = {c.name for c in products.constraints} | {i.name for i in products.indexes}
    assert {
        "pk_products",
        "fk_products_category_id_categories",
        "ix_products_name",
        "idx_name_price",
    } <= names
    assert "uq_categories_name" in {c.name for c in BaseModel.metadata.tables["categories"].constraints}
    assert "uq_profiles_user_id" in {c.name for c in BaseModel.metadata.tables["profiles"].constraints}
    assert "ck_users_role" in {c.name for c in BaseModel.metadata.tables["users"].constraints}


def test_repr_shows_class_and_loaded_fields() -> None:
    person = Person(id=7, name="Ada")
    assert repr(person).startswith("<Person id=7 name='Ada'")


def test_repr_unloaded_field_does_not_query() -> None:
    text = repr(Product(name="Lamp", price=3))
    assert text.startswith("<Product ")
    assert "name='Lamp'" in text
    assert "id=…" in text


def test_repr_fields_override_chooses_the_fields() -> None:
    user = User(id=1, email="ada@example.com", role="admin", first_name="Ada")
    assert repr(user) == "<User id=1 email='ada@example.com' role='admin'>"


def test_to_dict_returns_column_values() -> None:
    person = Person(id=2, name="Grace")
    data = person.to_dict()
    assert data["id"] == 2
    assert data["name"] == "Grace"
    assert set(data) == {"id", "name", "created_at", "updated_at"}
