"""Pydantic building blocks that mirror PostgreSQL column limits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from annotated_types import GroupedMetadata
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue

from pgbe.query.values import NO_NUL

INT4_MIN = -(2**31)
INT4_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class _NoNulInSchema:
    """Say in the JSON Schema what `_no_nul` checks: text without NUL characters (a pattern)."""

    def __get_pydantic_json_schema__(
        self, core_schema: Any, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        if schema.get("type") == "string":
            schema.setdefault("pattern", NO_NUL)
        return schema


Text = Annotated[str, AfterValidator(_no_nul), _NoNulInSchema()]
"""Text of any length without NUL characters (PostgreSQL refuses them)."""


Int4 = Annotated[int, Field(ge=INT4_MIN, le=INT4_MAX)]
"""An integer that fits PostgreSQL's `integer`."""

Id = Annotated[int, Field(ge=1, le=INT4_MAX)]
"""A primary key value."""


def _integer_kind(annotation: Any) -> str | None:
    """`"one"` for an integer, `"many"` for a list of them, through Annotated and Optional; else None."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _integer_kind(get_args(annotation)[0])
    if origin in (Union, UnionType):
        kinds = {_integer_kind(arg) for arg in get_args(annotation) if arg is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if origin in (list, tuple, set, frozenset):
        args = get_args(annotation)
        return "many" if args and _integer_kind(args[0]) == "one" else None
    return "one" if annotation is int else None  # bool, a subclass of int, is not one


@cache
def _integer_fields(model: type[BaseModel]) -> dict[str, str]:
    fields = {
        field.alias or name: _integer_kind(field.annotation) for name, field in model.model_fields.items()
    }
    return {name: kind for name, kind in fields.items() if kind is not None}


def _not_an_integer(value: Any) -> bool:
    return isinstance(value, bool | str)


def _refuse_coerced_integers(model: type[BaseModel], data: Any) -> Any:
    """Refuse `true` or `"5"` for an integer field or item: JSON says they are not integers (5.0 is one)."""
    if isinstance(data, dict):
        for name, kind in _integer_fields(model).items():
            value = data.get(name)
            if _not_an_integer(value) or (
                kind == "many" and isinstance(value, list) and any(map(_not_an_integer, value))
            ):
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
        yield _NoNulInSchema()


class _Body(BaseModel):
    """Base of request bodies: unknown fields are rejected, integers must be JSON integers."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _json_integers(cls, data: Any) -> Any:
        return _refuse_coerced_integers(cls, data)


class CreateSchema(_Body):
    """Base of request bodies: unknown fields are rejected."""


class UpdateSchema(_Body):
    """Base of partial-update bodies: every field optional, unknown fields rejected."""


class ReadSchema(BaseModel):
    """Base of response bodies, validated from ORM attributes."""

    model_config = ConfigDict(from_attributes=True)
