"""The models request bodies are validated with: the declared schema, exact about nulls, enveloped.

A body field mapped to a NOT NULL column accepts no `null` (PostgreSQL would refuse it), even when
the schema writes it `X | None = None` to make it optional, and OpenAPI then says so: the field is
optional, never nullable. A resource with a body envelope wraps the schema: `{"article": {...}}`.
"""

from __future__ import annotations

import types
import typing
from typing import Any

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
