"""The application's declarative base: id, plural table names, timestamps, naming convention."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from pgbe.db.errors import register_metadata
from pgbe.models import ModelMixin, make_metadata


class BaseModel(ModelMixin, DeclarativeBase):
    """Base of every model: `id`, `created_at`, `updated_at`, table name from the class name."""

    __abstract__ = True
    metadata = make_metadata()


register_metadata(BaseModel.metadata)
