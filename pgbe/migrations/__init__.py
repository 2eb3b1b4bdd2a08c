"""Alembic glue: the project's config and head revisions, and `run_env`, the body of migrations/env.py."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from pgbe.migrations.env import MIGRATION_LOCK_KEY, run_env


def alembic_config(
    root: Path | None = None, *, url: str | None = None, configure_logging: bool = False
) -> Config:
    """Return the Alembic config of the project at `root` (default: the working directory).

    `configure_logging` lets env.py apply alembic.ini's logging (what the `alembic` command does);
    off by default so that programs embedding Alembic keep their own logging.
    """
    base = (root or Path.cwd()).resolve()
    config = Config(str(base / "alembic.ini"))
    config.set_main_option("script_location", str(base / "migrations"))
    config.attributes["configure_logger"] = configure_logging
    if url:
        config.attributes["url"] = url
    return config


@lru_cache(maxsize=8)
def head_revisions(root: Path | None = None) -> frozenset[str]:
    """Return the head revision ids of the project's migration scripts."""
    return frozenset(ScriptDirectory.from_config(alembic_config(root)).get_heads())


__all__ = ["MIGRATION_LOCK_KEY", "alembic_config", "head_revisions", "run_env"]
