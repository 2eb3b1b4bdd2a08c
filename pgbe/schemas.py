"""Pydantic building blocks that mirror PostgreSQL column limits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, get_args

from annotated_types import GroupedMetadata
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

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


@cache
def _integer_fields(model: type[BaseModel]) -> tuple[str, ...]:
    names = []
    for name, field in model.model_fields.items():
        types = set(get_args(field.annotation)) or {field.annotation}
        if int in types and bool not in types:
            names.append(field.alias or name)
    return tuple(names)


def _refuse_coerced_integers(model: type[BaseModel], data: Any) -> Any:
    """Refuse `true` or `"5"` for an integer field: JSON says they are not integers (5.0 is one)."""
    if isinstance(data, dict):
        for name in _integer_fields(model):
            if isinstance(data.get(name), bool | str):
                raise ValueError(f"{name}: Input should be a valid integer")
    return data


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

    @model_validator(mode="before")
    @classmethod
    def _json_integers(cls, data: Any) -> Any:
        return _refuse_coerced_integers(cls, data)


class UpdateSchema(BaseModel):
    """Base of partial-update bodies: every field optional, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _json_integers(cls, data: Any) -> Any:
        return _refuse_coerced_integers(cls, data)


class ReadSchema(BaseModel):
    """Base of response bodies, validated from ORM attributes."""

    model_config = ConfigDict(from_attributes=True)
