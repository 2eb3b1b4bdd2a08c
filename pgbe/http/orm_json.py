"""Let endpoints without a response_model return ORM objects, encoded as JSON of their columns."""

from __future__ import annotations

from typing import Any

from fastapi import encoders
from sqlalchemy import inspect


def _encode(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {
        attr.key: encoders.jsonable_encoder(state.attrs[attr.key].value) for attr in state.mapper.column_attrs
    }


def register_orm_encoder(base: type) -> None:
    """Teach FastAPI's encoder to turn instances of `base` into dicts of their column values.

    Bases add up: two applications in one process (each with its own models) both keep theirs.
    """
    known = encoders.encoders_by_class_tuples.get(_encode, ())
    if base not in known:
        encoders.encoders_by_class_tuples[_encode] = (*known, base)
