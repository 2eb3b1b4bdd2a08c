"""User controller: hashes passwords and keeps `full_name` in step with the name fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.controllers.base_controller import BaseController
from app.models.user import User
from app.schemas.user import UserCreate, UserUpdate
from pgbe.auth.passwords import hash_password
from pgbe.auth.schema import email_key
from pgbe.errors import ConflictError


class UserController(BaseController[User, UserCreate, UserUpdate]):
    """Controller for user operations."""

    def __init__(self) -> None:
        """Initialize with User model."""
        super().__init__(User)

    def get_by_email(self, db: Session, email: str) -> User | None:
        """Return the user with this email (case and compatibility forms folded), or None."""
        return db.scalar(select(User).where(email_key(User.email) == email_key(email)))

    def create(self, db: Session, *, obj_in: UserCreate | Mapping[str, Any]) -> User:
        """Create a user, storing a hash of the password and never the password."""
        data = obj_in.model_dump() if isinstance(obj_in, UserCreate) else dict(obj_in)
        self._refuse_taken_email(db, data.get("email"), user_id=None)  # before the costly hash
        password = data.pop("password", None)
        if password is not None:
            data["hashed_password"] = hash_password(password)
        data["full_name"] = f"{data['first_name']} {data['last_name']}"
        return super().create(db, obj_in=data)

    def update(self, db: Session, *, db_obj: User, obj_in: UserUpdate | Mapping[str, Any]) -> User:
        """Update a user; a new password is hashed and the full name follows the name fields."""
        data = obj_in.model_dump(exclude_unset=True) if isinstance(obj_in, UserUpdate) else dict(obj_in)
        self._refuse_taken_email(db, data.get("email"), user_id=db_obj.id)
        if (password := data.pop("password", None)) is not None:
            data["hashed_password"] = hash_password(password)
        if "first_name" in data or "last_name" in data:
            first = data.get("first_name", db_obj.first_name)
            last = data.get("last_name", db_obj.last_name)
            data["full_name"] = f"{first} {last}"
        return super().update(db, db_obj=db_obj, obj_in=data)

    def _refuse_taken_email(self, db: Session, email: str | None, *, user_id: int | None) -> None:
        # A clear 409 before any hashing; the unique index on the email's key (pgbe.auth.schema)
        # still decides between two concurrent requests.
        if email is None:
            return
        other = self.get_by_email(db, email)
        if other is not None and other.id != user_id:
            raise ConflictError("A user with this email already exists", field="email")


user_controller = UserController()
