"""Database URLs: the configured one (or the embedded server's), and its forms for each driver."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url

from pgbe.settings import PgbeSettings


def resolve_url(settings: PgbeSettings) -> str:
    """Return the configured database URL, starting the embedded server when none is set."""
    if settings.database_url:
        return settings.database_url
    from pgbe.db import embedded  # only a project without DATABASE_URL needs the embedded server

    return embedded.start(Path(settings.embedded_data_dir), run_as=settings.embedded_user)


def with_driver(url: str | URL, driver: str) -> URL:
    """Return `url` with the SQLAlchemy driver name replaced (`psycopg`, `asyncpg` or "")."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername=f"postgresql+{driver}" if driver else "postgresql")


def libpq_dsn(url: str | URL) -> str:
    """Return a plain `postgresql://` DSN for libpq-style clients (asyncpg, psql)."""
    return with_driver(url, "").render_as_string(hide_password=False)


def describe(url: str | URL) -> str:
    """Return the URL without its password, for logs (an empty password is left out)."""
    plain = with_driver(url, "")
    if not plain.password:
        plain = plain._replace(password=None)
    return plain.render_as_string(hide_password=True)


__all__ = ["describe", "libpq_dsn", "resolve_url", "with_driver"]
