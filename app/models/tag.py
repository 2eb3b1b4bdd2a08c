"""Tags and the product_tags association table (many-to-many)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import BaseModel
from pgbe.models import VersionedMixin, trigram_index

if TYPE_CHECKING:
    from app.models.product import Product

product_tag = Table(
    "product_tags",
    BaseModel.metadata,
    Column("product_id", Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(VersionedMixin, BaseModel):
    """A label on products."""

    name: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)

    products: Mapped[list[Product]] = relationship(secondary=product_tag, back_populates="tags")

    __table_args__ = (trigram_index("tags", "name"),)  # name__contains / icontains on /tags
