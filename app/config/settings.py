"""The application's settings, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache

from pgbe.settings import PgbeSettings


class Settings(PgbeSettings):
    """Settings of the example application; see `.env.example` for every variable."""

    project_name: str = "pgbe-example"


@lru_cache
def get_settings() -> Settings:
    """Return the settings, read once per process."""
    return Settings()
