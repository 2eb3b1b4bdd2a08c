"""Users: people who sign in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, CheckConstraint, Index, String, false, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import BaseModel
from pgbe.auth.passwords import hash_password
from pgbe.auth.principal import Principal
from pgbe.auth.schema import email_index
from pgbe.models import VersionedMixin, trigram_index
from pgbe.writes import WriteRules

if TYPE_CHECKING:
    from app.models.profile import Profile

ROLES = ("admin", "staff", "user")


def _store_password_hash(data: dict[str, Any]) -> None:
    password = data.pop("password", None)
    if password is not None:
        data["hashed_password"] = hash_password(password)


def _new_user(data: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    """Store the password's hash, never the password; the full name is the two names."""
    del principal
    _store_password_hash(data)
    data["full_name"] = f"{data['first_name']} {data['last_name']}"
    return data


def _changed_user(data: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    """Hash a new password; keep the full name in step with whichever name changes."""
    del principal
    _store_password_hash(data)
    if "first_name" in data or "last_name" in data:
        table = User.__table__
        first = data.get("first_name", table.c.first_name)
        last = data.get("last_name", table.c.last_name)
        both = isinstance(first, str) and isinstance(last, str)
        data["full_name"] = f"{first} {last}" if both else func.concat(first, " ", last)
    return data


class User(VersionedMixin, BaseModel):
    """A person with an account; one profile each (one-to-one)."""

    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    full_name: Mapped[str | None] = mapped_column(String(201), nullable=True)
    hashed_password: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(
        String(20), nullable=False, server_default=text("'user'"), default="user", index=True
    )
    is_active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("true"), default=True, index=True
    )
    is_superuser: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false(), default=False)

    profile: Mapped[Profile | None] = relationship(
        uselist=False, back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # One account per email up to case and compatibility forms (fullwidth letters), on every write path.
    # The sorts and filters /users allows (app/resources.py) have an index each.
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES!r}", name="role"),
        email_index(),
        Index("ix_users_last_name_id", "last_name", "id"),
        Index("ix_users_created_at_id", "created_at", "id"),
        trigram_index("users", "email"),
    )
    __repr_fields__ = ("id", "email", "role")
    __write_rules__ = WriteRules(before_create=_new_user, before_update=_changed_user, blocking=True)
