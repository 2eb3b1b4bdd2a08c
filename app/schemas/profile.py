"""Profile schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pgbe.schemas import Chars, CreateSchema, ReadSchema, UpdateSchema


class ProfileCreate(CreateSchema):
    """Fields to create the caller's profile."""

    bio: Annotated[str, Chars(500)] | None = None
    website: Annotated[str, Chars(200)] | None = None


class ProfileUpdate(UpdateSchema):
    """Fields of a profile to change; all optional."""

    bio: Annotated[str, Chars(500)] | None = None
    website: Annotated[str, Chars(200)] | None = None


class ProfileRead(ReadSchema):
    """A profile as the API returns it."""

    id: int
    user_id: int
    bio: str | None
    website: str | None
    version: int
    created_at: datetime
    updated_at: datetime
