"""Accounts that must exist: the first admin of a deployment, demo users of the seed data."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from app.config.database import database
from app.config.settings import Settings, get_settings
from app.controllers.user import user_controller
from app.models import User
from pgbe.auth.passwords import PasswordPolicy, check_password_policy

logger = logging.getLogger("app.bootstrap")


def ensure_user(
    db: Session,
    email: str,
    password: str,
    role: str = "user",
    *,
    first_name: str | None = None,
    last_name: str | None = None,
) -> User:
    """Return the user with `email`, creating it with this password and role when missing.

    An existing account is returned unchanged (its password and role are kept), so calling this on
    every start is safe. Admins are created as superusers.

    Raises:
        ValidationError: the password breaks the policy (only checked when the user is created).
    """
    existing = user_controller.get_by_email(db, email)
    if existing is not None:
        return existing
    check_password_policy(password, email=email, policy=PasswordPolicy.from_settings(get_settings()))
    local = email.partition("@")[0]
    return user_controller.create(
        db,
        obj_in={
            "email": email,
            "password": password,
            "first_name": (first_name or local.replace(".", " ").title() or "User")[:100],
            "last_name": (last_name or role.title())[:100],
            "role": role,
            "is_superuser": role == "admin",
        },
    )


def ensure_first_admin(db: Session, settings: Settings) -> User | None:
    """Create the admin named by FIRST_ADMIN_EMAIL / FIRST_ADMIN_PASSWORD unless that account exists."""
    if not settings.first_admin_email or settings.first_admin_password is None:
        return None
    existed = user_controller.get_by_email(db, settings.first_admin_email) is not None
    user = ensure_user(
        db, settings.first_admin_email, settings.first_admin_password.get_secret_value(), role="admin"
    )
    if not existed:
        logger.info("created the first admin %s", user.email)
    return user


def create_first_admin() -> None:
    """Create the first admin on start-up when FIRST_ADMIN_EMAIL / FIRST_ADMIN_PASSWORD are set."""
    with database.SessionLocal() as db:
        ensure_first_admin(db, get_settings())
