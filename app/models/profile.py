"""Profiles: one per user."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import BaseModel
from pgbe.models import VersionedMixin

if TYPE_CHECKING:
    from app.models.user import User


class Profile(VersionedMixin, BaseModel):
    """Public details of a user (one-to-one: `profiles.user_id` is unique)."""

    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    bio: Mapped[str | None] = mapped_column(String(500))
    website: Mapped[str | None] = mapped_column(String(200), index=True)

    user: Mapped[User] = relationship(back_populates="profile")

    __table_args__ = (Index("ix_profiles_created_at_id", "created_at", "id"),)  # sort=created_at
