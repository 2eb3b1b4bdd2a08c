"""The models request bodies are validated with: the declared schema, exact about nulls, enveloped.

A body field mapped to a NOT NULL column accepts no `null` (PostgreSQL would refuse it), even when
the schema writes it `X | None = None` to make it optional, and OpenAPI then says so: the field is
optional, never nullable. A resource with a body envelope wraps the schema: `{"article": {...}}`.
`plain_dump` tells when a validated body's attributes already are what `model_dump()` would return.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import types
import typing
import uuid
from collections.abc import Iterable
from typing import Any

import pydantic
from annotated_types import GroupedMetadata
from pydantic import BaseModel as Schema
from pydantic import ConfigDict, Field, create_model
from pydantic.config import JsonDict
from sqlalchemy.orm import Mapper


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return None


def _no_default(schema: JsonDict) -> None:
    schema.pop("default", None)


def without_nulls(schema: type[Schema], mapper: Mapper[Any]) -> type[Schema]:
    """`schema`, with the optional fields of NOT NULL columns refusing `null` (the same name)."""
    fields: dict[str, Any] = {}
    for name, field in schema.model_fields.items():
        column = mapper.columns.get(name)
        inner = _without_none(field.annotation)
        if (
            column is None
            or column.nullable
            or inner is None
            or field.is_required()
            or field.default is not None
        ):
            continue
        fields[name] = (
            inner,
            Field(
                default=None, alias=field.alias, description=field.description, json_schema_extra=_no_default
            ),
        )
    if not fields:
        return schema
    model: type[Schema] = create_model(
        schema.__name__, __base__=schema, __module__=schema.__module__, **fields
    )
    model.__doc__ = schema.__doc__
    return model


def body_envelope(schema: type[Schema], key: str) -> type[Schema]:
    """A model of `{key: <schema>}`, for request bodies sent in an envelope (`{"article": {...}}`)."""
    model: type[Schema] = create_model(
        f"{schema.__name__}Envelope",
        __config__=ConfigDict(extra="forbid"),
        pgbe_body=(schema, Field(alias=key)),
    )
    return model


# Values model_dump() returns as they are (a list as a copy of its items): nothing to serialize.
_PLAIN_TYPES = frozenset(
    {str, int, float, bool, type(None), decimal.Decimal, uuid.UUID}
    | {datetime.datetime, datetime.date, datetime.time, datetime.timedelta}
)
_SERIALIZERS = (pydantic.PlainSerializer, pydantic.WrapSerializer)
_VALIDATORS = (pydantic.AfterValidator, pydantic.BeforeValidator)


def _plain_metadata(metadata: Iterable[Any]) -> bool:
    """Tell whether annotations leave serialization alone: constraints and after/before validators do."""
    for item in metadata:
        if isinstance(item, GroupedMetadata):
            if not _plain_metadata(item):
                return False
        elif isinstance(item, _SERIALIZERS) or (
            hasattr(item, "__get_pydantic_core_schema__") and not isinstance(item, _VALIDATORS)
        ):
            return False
    return True


def _plain(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *metadata = typing.get_args(annotation)
        return _plain(inner) and _plain_metadata(metadata)
    if origin in (typing.Union, types.UnionType, list):
        return all(_plain(arg) for arg in typing.get_args(annotation))
    if not isinstance(annotation, type):
        return False
    if issubclass(annotation, enum.Enum):
        return not hasattr(annotation, "__get_pydantic_core_schema__")
    return annotation in _PLAIN_TYPES


_PLAIN_MODELS: dict[type[Schema], bool] = {}


def plain_dump(model: type[Schema]) -> bool:
    """Tell whether `model_dump()` of `model` equals its attributes: plain fields, no serializers."""
    found = _PLAIN_MODELS.get(model)
    if found is None:
        found = _plain_model(model)
        if len(_PLAIN_MODELS) < 1024:  # body models are made at start-up; bounded all the same
            _PLAIN_MODELS[model] = found
    return found


def _plain_model(model: type[Schema]) -> bool:
    decorators = model.__pydantic_decorators__
    config = model.model_config
    return (
        not decorators.field_serializers
        and not decorators.model_serializers
        and not model.__pydantic_computed_fields__
        and config.get("extra") != "allow"
        and not config.get("serialize_by_alias")
        and all(
            not field.exclude
            and getattr(field, "exclude_if", None) is None
            and _plain_metadata(field.metadata)
            and _plain(field.annotation)
            for field in model.__pydantic_fields__.values()
        )
    )
