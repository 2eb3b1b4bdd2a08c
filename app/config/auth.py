"""The application's authentication: one Auth on the application's database and settings."""

from __future__ import annotations

from app.config.database import database
from app.config.settings import get_settings
from pgbe.auth.service import Auth

auth = Auth(get_settings(), database)
