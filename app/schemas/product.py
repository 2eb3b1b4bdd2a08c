"""Product schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.schemas.category import CategoryRead
from app.schemas.tag import TagRead
from pgbe.schemas import Chars, CreateSchema, Id, Int4, ReadSchema, UpdateSchema


class ProductCreate(CreateSchema):
    """Fields to create a product; `tag_ids` sets its tags."""

    name: Annotated[str, Chars(100, min=1)]
    description: Annotated[str, Chars(500)] | None = None
    price: Annotated[Int4, Field(ge=0)]
    sku: Annotated[str, Chars(100)] | None = None
    category_id: Id | None = None
    tag_ids: Annotated[list[Id], Field(max_length=100)] | None = None


class ProductUpdate(UpdateSchema):
    """Fields of a product to change; all optional."""

    name: Annotated[str, Chars(100, min=1)] | None = None
    description: Annotated[str, Chars(500)] | None = None
    price: Annotated[Int4, Field(ge=0)] | None = None
    sku: Annotated[str, Chars(100)] | None = None
    category_id: Id | None = None
    tag_ids: Annotated[list[Id], Field(max_length=100)] | None = None


class ProductRead(ReadSchema):
    """A product as the API returns it; `category` and `tags` only when included."""

    id: int
    name: str
    description: str | None
    price: int
    sku: str | None
    category_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    category: CategoryRead | None = Field(default=None, description="With include=category")
    tags: list[TagRead] | None = Field(default=None, description="With include=tags")
