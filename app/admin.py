"""The example's admin site: every model at /admin, with the REST resources' permissions."""

from __future__ import annotations

from fastapi import FastAPI

from app.config.auth import auth
from app.config.database import database
from app.config.settings import get_settings
from app.models import BaseModel
from app.resources import RESOURCES
from pgbe.admin import mount_admin


def install_admin(app: FastAPI) -> None:
    """Mount the admin site at /admin: admins see everything, staff the catalogue."""
    mount_admin(
        app,
        base=BaseModel,
        session_maker=database.SessionLocal,
        settings=get_settings(),
        auth=auth,
        resources=RESOURCES,
    )
