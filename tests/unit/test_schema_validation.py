"""Request schemas mirror the columns: lengths in characters, int4 ranges, required fields, no NUL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel as Schema
from pydantic import ValidationError
from sqlalchemy import String

from app.models import Category, Product, Profile, Tag, User
from app.models.base import BaseModel
from app.schemas.category import CategoryCreate, CategoryRead, CategoryUpdate
from app.schemas.product import ProductCreate, ProductUpdate
from app.schemas.profile import ProfileCreate, ProfileUpdate
from app.schemas.tag import TagCreate, TagUpdate
from app.schemas.user import UserCreate, UserUpdate
from pgbe.schemas import INT4_MAX

VALID_CREATE: dict[type[Schema], dict[str, Any]] = {
    CategoryCreate: {"name": "Books"},
    ProductCreate: {"name": "Lamp", "price": 10},
    TagCreate: {"name": "sale"},
    ProfileCreate: {},
    UserCreate: {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "password": "Analytical-Engine-1843",
    },
}
SCHEMA_MODEL: list[tuple[type[Schema], type[BaseModel]]] = [
    (CategoryCreate, Category),
    (CategoryUpdate, Category),
    (ProductCreate, Product),
    (ProductUpdate, Product),
    (TagCreate, Tag),
    (TagUpdate, Tag),
    (ProfileCreate, Profile),
    (ProfileUpdate, Profile),
    (UserCreate, User),
    (UserUpdate, User),
]
UPDATE_SCHEMAS = [CategoryUpdate, ProductUpdate, TagUpdate, ProfileUpdate, UserUpdate]


def _error_types(exc: pytest.ExceptionInfo[ValidationError], field: str) -> set[str]:
    return {e["type"] for e in exc.value.errors() if e["loc"][:1] == (field,)}


def _base_payload(schema: type[Schema]) -> dict[str, Any]:
    return dict(VALID_CREATE.get(schema, {}))


def _string_columns(schema: type[Schema], model: type[BaseModel]) -> list[tuple[str, int]]:
    columns = model.__table__.columns
    return [
        (name, columns[name].type.length)
        for name in schema.model_fields
        if name in columns
        and isinstance(columns[name].type, String)
        and columns[name].type.length
        and name != "email"
    ]


@pytest.mark.parametrize(("schema", "model"), SCHEMA_MODEL, ids=lambda v: v.__name__)
def test_schema_string_fields_max_length_matches_column_length(
    schema: type[Schema], model: type[BaseModel]
) -> None:
    checked = _string_columns(schema, model)
    for field, length in checked:
        schema.model_validate({**_base_payload(schema), field: "x" * length})
        with pytest.raises(ValidationError) as exc:
            schema.model_validate({**_base_payload(schema), field: "x" * (length + 1)})
        assert _error_types(exc, field) == {"string_too_long"}
    assert checked, "the schema has no field of a String(n) column"


def test_category_name_max_length_counts_characters_not_bytes() -> None:
    assert len("é".encode()) == 2
    assert CategoryCreate(name="é" * 100).name == "é" * 100
    assert CategoryCreate(name="🚀" * 100).name == "🚀" * 100
    with pytest.raises(ValidationError) as exc:
        CategoryCreate(name="é" * 101)
    assert _error_types(exc, "name") == {"string_too_long"}


@pytest.mark.parametrize("price", [-1, INT4_MAX + 1, 2**63])
def test_product_price_outside_int4_or_negative_is_rejected(price: int) -> None:
    with pytest.raises(ValidationError) as exc:
        ProductCreate(name="Lamp", price=price)
    assert _error_types(exc, "price") <= {"greater_than_equal", "less_than_equal"}
    assert _error_types(exc, "price")


def test_product_price_int4_max_is_accepted() -> None:
    assert ProductCreate(name="Lamp", price=INT4_MAX).price == INT4_MAX


@pytest.mark.parametrize("category_id", [0, INT4_MAX + 1])
def test_product_category_id_outside_key_range_is_rejected(category_id: int) -> None:
    with pytest.raises(ValidationError) as exc:
        ProductCreate(name="Lamp", price=1, category_id=category_id)
    assert _error_types(exc, "category_id")


def test_product_create_missing_required_fields_names_each() -> None:
    with pytest.raises(ValidationError) as exc:
        ProductCreate.model_validate({"description": "no name, no price"})
    assert {e["loc"][0] for e in exc.value.errors() if e["type"] == "missing"} == {"name", "price"}


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        (CategoryCreate, "name"),
        (ProductCreate, "description"),
        (TagCreate, "name"),
        (UserCreate, "first_name"),
    ],
)
def test_text_with_nul_character_is_rejected(schema: type[Schema], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        schema.model_validate({**_base_payload(schema), field: "a\x00b"})
    assert "NUL" in str(exc.value)


@pytest.mark.parametrize("schema", [*VALID_CREATE, *UPDATE_SCHEMAS], ids=lambda s: s.__name__)
def test_unknown_field_is_rejected(schema: type[Schema]) -> None:
    with pytest.raises(ValidationError) as exc:
        schema.model_validate({**_base_payload(schema), "colour": "red"})
    assert _error_types(exc, "colour") == {"extra_forbidden"}


def test_category_create_empty_name_is_rejected() -> None:
    with pytest.raises(ValidationError):
        CategoryCreate(name="")


@pytest.mark.parametrize("schema", UPDATE_SCHEMAS, ids=lambda s: s.__name__)
def test_update_schema_every_field_is_optional_and_unset_by_default(schema: type[Schema]) -> None:
    assert all(not field.is_required() for field in schema.model_fields.values())
    assert schema().model_dump(exclude_unset=True) == {}


def test_update_schema_dump_exclude_unset_keeps_only_sent_fields() -> None:
    update = ProductUpdate.model_validate({"price": 5, "description": None})
    assert update.model_dump(exclude_unset=True) == {"price": 5, "description": None}


def test_user_create_password_shorter_than_ten_characters_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        UserCreate.model_validate({**VALID_CREATE[UserCreate], "password": "short"})
    assert _error_types(exc, "password") == {"string_too_short"}


def test_user_create_invalid_email_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        UserCreate.model_validate({**VALID_CREATE[UserCreate], "email": "not-an-email"})
    assert _error_types(exc, "email")


def test_read_schema_validates_from_orm_attributes() -> None:
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    category = Category(id=3, name="Books", description=None, version=1, created_at=stamp, updated_at=stamp)
    read = CategoryRead.model_validate(category)
    assert (read.id, read.name, read.version) == (3, "Books", 1)
