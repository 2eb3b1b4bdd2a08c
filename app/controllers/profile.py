"""Profile controller."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.controllers.base_controller import BaseController
from app.models.profile import Profile
from app.schemas.profile import ProfileCreate, ProfileUpdate


class ProfileController(BaseController[Profile, ProfileCreate, ProfileUpdate]):
    """Controller for profile operations."""

    def __init__(self) -> None:
        """Initialize with Profile model."""
        super().__init__(Profile)

    def get_by_user(self, db: Session, user_id: int) -> Profile | None:
        """Return the profile of a user, or None."""
        return db.scalar(select(Profile).where(Profile.user_id == user_id))


profile_controller = ProfileController()
