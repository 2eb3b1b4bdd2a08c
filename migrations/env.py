"""Alembic environment: pgbe runs the migrations (lock, timeouts); the project names settings and models."""

import app.models  # noqa: F401 - imports every model into the metadata
from app.config.settings import get_settings
from app.models.base import BaseModel
from pgbe.migrations import run_env

run_env(settings=get_settings(), metadata=BaseModel.metadata)
