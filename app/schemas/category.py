"""Category schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pgbe.schemas import Chars, CreateSchema, ReadSchema, UpdateSchema


class CategoryCreate(CreateSchema):
    """Fields to create a category."""

    name: Annotated[str, Chars(100, min=1)]
    description: Annotated[str, Chars(500)] | None = None


class CategoryUpdate(UpdateSchema):
    """Fields of a category to change; all optional."""

    name: Annotated[str, Chars(100, min=1)] | None = None
    description: Annotated[str, Chars(500)] | None = None


class CategoryRead(ReadSchema):
    """A category as the API returns it."""

    id: int
    name: str
    description: str | None
    version: int
    created_at: datetime
    updated_at: datetime
