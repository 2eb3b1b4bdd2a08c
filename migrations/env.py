"""Alembic environment: the project's settings give the URL, its models the target metadata."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import app.models  # noqa: F401 - imports every model into the metadata
from app.config.settings import get_settings
from app.models.base import BaseModel
from pgbe.database import resolve_url, with_driver

config = context.config
target_metadata = BaseModel.metadata


def _url() -> str:
    explicit = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    url = explicit or resolve_url(get_settings())
    return with_driver(url, "psycopg").render_as_string(hide_password=False)


def _options() -> dict[str, object]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        "compare_server_default": True,
        "include_schemas": False,
    }


def run_migrations_offline() -> None:
    """Render the migrations as SQL (`--sql`) without a database connection."""
    context.configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"}, **_options())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against the configured database, one transaction per run."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **_options())
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, transaction_per_migration=True, **_options())
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
