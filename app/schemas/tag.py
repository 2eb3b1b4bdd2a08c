"""Tag schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pgbe.schemas import Chars, CreateSchema, ReadSchema, UpdateSchema


class TagCreate(CreateSchema):
    """Fields to create a tag."""

    name: Annotated[str, Chars(50, min=1)]


class TagUpdate(UpdateSchema):
    """Fields of a tag to change; all optional."""

    name: Annotated[str, Chars(50, min=1)] | None = None


class TagRead(ReadSchema):
    """A tag as the API returns it."""

    id: int
    name: str
    version: int
    created_at: datetime
    updated_at: datetime
