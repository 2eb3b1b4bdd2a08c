"""Product categories."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import BaseModel
from pgbe.models import VersionedMixin, trigram_index

if TYPE_CHECKING:
    from app.models.product import Product


class Category(VersionedMixin, BaseModel):
    """A category groups products (one-to-many)."""

    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(String(500), index=True)

    # passive_deletes="all": the ORM must not set products.category_id to NULL before deleting a
    # category; the database's ON DELETE RESTRICT refuses it instead (a conflict for the caller).
    products: Mapped[list[Product]] = relationship(back_populates="category", passive_deletes="all")

    # The allow-lists of /categories: sorts on the timestamps, text search on name and description.
    __table_args__ = (
        Index("ix_categories_created_at_id", "created_at", "id"),
        Index("ix_categories_updated_at_id", "updated_at", "id"),
        trigram_index("categories", "name"),
        trigram_index("categories", "description"),
    )
