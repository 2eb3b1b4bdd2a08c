"""Alembic environment: pgbe runs the migrations (lock, timeouts); Conduit names its settings and models."""

import conduit.models
from conduit.settings import get_settings

from pgbe.migrations import run_env

run_env(settings=get_settings(), metadata=conduit.models.BaseModel.metadata)
