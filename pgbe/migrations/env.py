"""The Alembic environment of every pgbe project: `run_env` is the body of `migrations/env.py`.

Online, one migrator runs at a time per database (a session advisory lock, taken before the
timeouts are set: waiting for another migrator is expected), each revision in its own transaction,
bounded by the migration lock and statement timeouts of the settings. Offline (`--sql`) renders the
same with the timeouts as SET statements. Autogenerate writes no file when nothing changed, and
leaves pgbe's own bookkeeping tables out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, pool

from pgbe.db.batches import PROGRESS_TABLE
from pgbe.db.urls import resolve_url, with_driver
from pgbe.settings import PgbeSettings

# Key of the session advisory lock held while migrating ("pgbe" in ASCII): two `alembic upgrade` or
# `pgbe run` started together run one after the other instead of colliding.
MIGRATION_LOCK_KEY = 0x70676265
PGBE_TABLES = frozenset({PROGRESS_TABLE})
logger = logging.getLogger("alembic.env")


def run_env(*, settings: PgbeSettings, metadata: MetaData, **options: Any) -> None:
    """Run the migrations Alembic asked for against the project's database and models.

    `options` are passed on to `context.configure` and win over pgbe's (e.g. `compare_type=False`).
    """
    config = context.config
    # The migration linter reads the models from here to spot dropped or renamed columns still mapped.
    config.attributes["target_metadata"] = metadata
    if config.config_file_name and config.attributes.get("configure_logger", True):
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    configure = {**_options(metadata), **options}
    if context.is_offline_mode():
        _run_offline(settings, configure)
    else:
        _run_online(settings, configure)


def _explicit_url() -> str | None:
    config = context.config
    url: str | None = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    return url


def timeouts(settings: PgbeSettings) -> list[str]:
    """Return the SET statements bounding how long a migration waits for a lock and runs a statement."""
    statements = []
    if settings.db_migration_lock_timeout_ms:
        statements.append(f"SET lock_timeout = {settings.db_migration_lock_timeout_ms:d}")
    if settings.db_migration_statement_timeout_ms:
        statements.append(f"SET statement_timeout = {settings.db_migration_statement_timeout_ms:d}")
    return statements


def _autogenerating() -> bool:
    config = context.config
    return bool(getattr(config.cmd_opts, "autogenerate", False) or config.attributes.get("autogenerate"))


def skip_empty_revision(_: MigrationContext, __: Any, directives: list[MigrationScript]) -> None:
    """Write no file when autogenerate found nothing to do."""
    if not _autogenerating() or not directives:
        return
    scripts: Iterable[Any] = directives[0].upgrade_ops_list
    if all(ops.is_empty() for ops in scripts):
        directives[:] = []
        logger.warning("No changes between the models and the database: no revision written.")


def include_name(name: str | None, type_: str, _: Any) -> bool:
    """Leave pgbe's own bookkeeping tables out of autogenerate and `alembic check`."""
    return not (type_ == "table" and name in PGBE_TABLES)


def _options(metadata: MetaData) -> dict[str, Any]:
    return {
        "target_metadata": metadata,
        "compare_type": True,
        "compare_server_default": True,
        "include_schemas": False,
        "include_name": include_name,
        "process_revision_directives": skip_empty_revision,
    }


def _run_offline(settings: PgbeSettings, options: dict[str, Any]) -> None:
    """Render the migrations as SQL (`--sql`); needs no database, only the PostgreSQL dialect."""
    url = _explicit_url() or settings.database_url or "postgresql://"
    context.configure(
        url=with_driver(url, "psycopg"), literal_binds=True, dialect_opts={"paramstyle": "named"}, **options
    )
    for statement in timeouts(settings):
        context.execute(statement)
    with context.begin_transaction():
        context.run_migrations()


def _run_online(settings: PgbeSettings, options: dict[str, Any]) -> None:
    """Run the migrations against the database, one transaction per revision."""
    connection = context.config.attributes.get("connection")
    if connection is not None:  # a caller's connection (tests, programs embedding Alembic): as it is
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(
        with_driver(_explicit_url() or resolve_url(settings), "psycopg"), poolclass=pool.NullPool
    )
    try:
        with engine.connect() as conn:
            # The lock goes with the connection (NullPool closes it). Taken before lock_timeout is set:
            # waiting for another migrator to finish is expected.
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
            for statement in timeouts(settings):
                conn.exec_driver_sql(statement)
            conn.commit()  # session-level settings stay; alembic must start with no open transaction
            context.configure(connection=conn, transaction_per_migration=True, **options)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


__all__ = ["MIGRATION_LOCK_KEY", "PGBE_TABLES", "include_name", "run_env", "skip_empty_revision", "timeouts"]
