"""Alembic environment: the project's settings give the URL, its models the target metadata."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool

import app.models  # noqa: F401 - imports every model into the metadata
from app.config.settings import get_settings
from app.models.base import BaseModel
from pgbe.db.batches import PROGRESS_TABLE
from pgbe.db.database import resolve_url, with_driver
from pgbe.migrations import MIGRATION_LOCK_KEY

config = context.config
target_metadata = BaseModel.metadata
# The migration linter reads the models from here to spot dropped or renamed columns still mapped.
config.attributes["target_metadata"] = target_metadata

if config.config_file_name and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def _explicit_url() -> str | None:
    url: str | None = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    return url


def _timeouts() -> list[str]:
    """SET statements bounding how long a migration may wait for a lock and run one statement."""
    settings = get_settings()
    statements = []
    if settings.db_migration_lock_timeout_ms:
        statements.append(f"SET lock_timeout = {settings.db_migration_lock_timeout_ms}")
    if settings.db_migration_statement_timeout_ms:
        statements.append(f"SET statement_timeout = {settings.db_migration_statement_timeout_ms}")
    return statements


def _autogenerating() -> bool:
    return bool(getattr(config.cmd_opts, "autogenerate", False) or config.attributes.get("autogenerate"))


def _skip_empty_revision(_: MigrationContext, __: Any, directives: list[MigrationScript]) -> None:
    """Write no file when autogenerate found nothing to do."""
    if not _autogenerating() or not directives:
        return
    scripts: Iterable[Any] = directives[0].upgrade_ops_list
    if all(ops.is_empty() for ops in scripts):
        directives[:] = []
        logger.warning("No changes between the models and the database: no revision written.")


def _include_name(name: str | None, type_: str, _: Any) -> bool:
    """Leave pgbe's own bookkeeping tables out of autogenerate and `alembic check`."""
    return not (type_ == "table" and name == PROGRESS_TABLE)


def _options() -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        "compare_server_default": True,
        "include_schemas": False,
        "include_name": _include_name,
        "process_revision_directives": _skip_empty_revision,
    }


def run_migrations_offline() -> None:
    """Render the migrations as SQL (`--sql`); needs no database, only the PostgreSQL dialect."""
    url = _explicit_url() or get_settings().database_url or "postgresql://"
    context.configure(
        url=with_driver(url, "psycopg"),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_options(),
    )
    for statement in _timeouts():
        context.execute(statement)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against the configured database, one transaction per revision."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **_options())
        with context.begin_transaction():
            context.run_migrations()
        return
    url = with_driver(_explicit_url() or resolve_url(get_settings()), "psycopg")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            # One migrator per database; the lock goes with the connection (NullPool closes it). Taken
            # before lock_timeout is set: waiting for another migrator to finish is expected.
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
            for statement in _timeouts():
                conn.exec_driver_sql(statement)
            conn.commit()  # session-level settings stay; alembic must start with no open transaction
            context.configure(connection=conn, transaction_per_migration=True, **_options())
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
