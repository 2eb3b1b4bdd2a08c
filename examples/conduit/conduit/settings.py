"""Conduit's settings: pgbe's, read from CONDUIT_* variables so it never picks up another project's."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pgbe.settings import PgbeSettings


class Settings(PgbeSettings):
    """Settings of the Conduit example (`CONDUIT_DATABASE_URL`, `CONDUIT_SECRET_KEY`, ...)."""

    # This example lives inside pgbe's repository, whose own app reads DATABASE_URL from the same shell.
    model_config = PgbeSettings.model_config | SettingsConfigDict(env_prefix="CONDUIT_")

    project_name: str = "conduit"
    page_default_limit: int = 20  # RealWorld's default page of articles
    # RealWorld clients send `Token <jwt>`; WWW-Authenticate and OpenAPI name it first
    auth_schemes: list[str] = Field(default_factory=lambda: ["Token", "Bearer"], min_length=1)


@lru_cache
def get_settings() -> Settings:
    """Return the settings, read once per process."""
    return Settings()
