"""Products, their category and their tags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import BaseModel
from app.models.tag import product_tag
from pgbe.models import VersionedMixin, trigram_index

if TYPE_CHECKING:
    from app.models.category import Category
    from app.models.tag import Tag


class Product(VersionedMixin, BaseModel):
    """Product model."""

    name: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    price: Mapped[int] = mapped_column(Integer, nullable=False)
    sku: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)

    category_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    category: Mapped[Category | None] = relationship(back_populates="products")
    tags: Mapped[list[Tag]] = relationship(secondary=product_tag, back_populates="products")

    # The allow-lists of /products (app/resources.py): each sort reads an index in order, ties broken
    # by id; name__contains / icontains search the trigram index (`pgbe db lint` checks them all).
    __table_args__ = (
        Index("idx_name_price", "name", "price"),
        Index("ix_products_price_id", "price", "id"),
        Index("ix_products_created_at_id", "created_at", "id"),
        Index("ix_products_updated_at_id", "updated_at", "id"),
        trigram_index("products", "name"),
    )
