"""Users: people who sign in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import BaseModel
from pgbe.auth.schema import email_index
from pgbe.models import VersionedMixin

if TYPE_CHECKING:
    from app.models.profile import Profile

ROLES = ("admin", "staff", "user")


class User(VersionedMixin, BaseModel):
    """A person with an account; one profile each (one-to-one)."""

    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    full_name: Mapped[str | None] = mapped_column(String(201), nullable=True)
    hashed_password: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(
        String(20), nullable=False, server_default=text("'user'"), default="user"
    )
    is_active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("true"), default=True
    )
    is_superuser: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false(), default=False)

    profile: Mapped[Profile | None] = relationship(
        uselist=False, back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # One account per email up to case and compatibility forms (fullwidth letters), on every write path.
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"), email_index())
    __repr_fields__ = ("id", "email", "role")
