"""Pydantic building blocks that mirror PostgreSQL column limits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from annotated_types import GroupedMetadata
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

INT4_MIN = -(2**31)
INT4_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
"""Text of any length without NUL characters (PostgreSQL refuses them)."""

Int4 = Annotated[int, Field(ge=INT4_MIN, le=INT4_MAX)]
"""An integer that fits PostgreSQL's `integer`."""

Id = Annotated[int, Field(ge=1, le=INT4_MAX)]
"""A primary key value."""


@dataclass(frozen=True)
class Chars(GroupedMetadata):
    """Limit a string to `max` characters (as `String(n)` does) and refuse NUL characters."""

    max: int
    min: int = 0

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(min_length=self.min, max_length=self.max)
        yield AfterValidator(_no_nul)


class CreateSchema(BaseModel):
    """Base of request bodies: unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")


class UpdateSchema(BaseModel):
    """Base of partial-update bodies: every field optional, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid")


class ReadSchema(BaseModel):
    """Base of response bodies, validated from ORM attributes."""

    model_config = ConfigDict(from_attributes=True)
