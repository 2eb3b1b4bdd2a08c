"""Bootstrap accounts: `pgbe createsuperuser`, the first admin from settings, `ensure_user`."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.bootstrap import ensure_first_admin, ensure_user
from app.config.settings import Settings
from app.models import User
from pgbe.auth.passwords import verify_password
from pgbe.cli.main import app as pgbe_app
from pgbe.errors import ValidationError
from pgbe.migrations import alembic_config
from pgbe.project import Project

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Bootstrap-Secret-1"


@pytest.fixture
def migrated_url(scratch_database: str) -> str:
    command.upgrade(alembic_config(ROOT, url=scratch_database), "head")
    return scratch_database


def _pgbe(url: str, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DATABASE_URL": url, "ENVIRONMENT": "test", **env}
    environ.pop("PGBE_SUPERUSER_PASSWORD", None)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pgbe.cli", "createsuperuser", *args],
        cwd=ROOT,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _user(url: str, email: str) -> tuple[str, bool, str] | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT role, is_superuser, hashed_password FROM users WHERE email = %s", (email,)
        ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def test_createsuperuser_flags_create_admin(migrated_url: str) -> None:
    result = _pgbe(migrated_url, "--email", "root@example.com", "--password", PASSWORD, "--no-input")
    assert result.returncode == 0, result.stderr
    row = _user(migrated_url, "root@example.com")
    assert row is not None
    role, superuser, hashed = row
    assert (role, superuser) == ("admin", True)
    assert verify_password(PASSWORD, hashed)[0]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, migrated_url: str) -> Iterator[CliRunner]:
    """Run `pgbe` in this process against the scratch database."""
    from app.config.settings import get_settings
    from pgbe.db.database import Database

    scratch = Database(get_settings(), url=migrated_url)
    monkeypatch.setattr(Project, "database", lambda self: scratch)
    monkeypatch.delenv("PGBE_SUPERUSER_PASSWORD", raising=False)
    yield CliRunner()
    scratch.engine.dispose()


def test_createsuperuser_prompts_for_missing_values(cli: CliRunner, migrated_url: str) -> None:
    result = cli.invoke(pgbe_app, ["createsuperuser"], input=f"ops@example.com\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert _user(migrated_url, "ops@example.com") is not None


def test_createsuperuser_existing_email_fails(cli: CliRunner, migrated_url: str) -> None:
    args = ["createsuperuser", "--email", "root@example.com", "--no-input"]
    assert cli.invoke(pgbe_app, args, env={"PGBE_SUPERUSER_PASSWORD": PASSWORD}).exit_code == 0
    again = cli.invoke(
        pgbe_app, [*args[:2], "ROOT@example.com", "--no-input"], env={"PGBE_SUPERUSER_PASSWORD": PASSWORD}
    )
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_createsuperuser_no_input_missing_or_weak_values_fail(cli: CliRunner, migrated_url: str) -> None:
    missing = cli.invoke(
        pgbe_app, ["createsuperuser", "--no-input"], env={"PGBE_SUPERUSER_PASSWORD": PASSWORD}
    )
    assert missing.exit_code == 1
    assert "--email" in missing.output
    weak = cli.invoke(
        pgbe_app,
        ["createsuperuser", "--email", "weak@example.com", "--password", "onlylowercase", "--no-input"],
    )
    assert weak.exit_code == 1
    assert "two kinds of characters" in weak.output
    bad_email = cli.invoke(
        pgbe_app, ["createsuperuser", "--email", "nope", "--password", PASSWORD, "--no-input"]
    )
    assert bad_email.exit_code == 1
    assert _user(migrated_url, "weak@example.com") is None


def test_ensure_user_existing_account_is_left_unchanged(db: Session) -> None:
    created = ensure_user(db, "demo@example.com", PASSWORD, "staff")
    assert created.role == "staff"
    again = ensure_user(db, "Demo@example.com", "Other-Password-2", "admin")
    assert again.id == created.id
    assert again.role == "staff"
    assert verify_password(PASSWORD, again.hashed_password)[0]
    assert len(db.scalars(select(User).where(User.email == "demo@example.com")).all()) == 1


def test_ensure_user_weak_password_creates_nothing(db: Session) -> None:
    with pytest.raises(ValidationError):
        ensure_user(db, "weak@example.com", "password", "user")
    assert db.scalar(select(User).where(User.email == "weak@example.com")) is None


def test_ensure_first_admin_from_settings_is_idempotent(db: Session) -> None:
    settings = Settings(first_admin_email="first@example.com", first_admin_password=PASSWORD)
    first = ensure_first_admin(db, settings)
    assert first is not None
    assert (first.role, first.is_superuser) == ("admin", True)
    second = ensure_first_admin(db, settings)
    assert second is not None
    assert second.id == first.id
    assert ensure_first_admin(db, Settings(first_admin_email=None)) is None


async def test_lifespan_creates_first_admin(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    from app.config.settings import get_settings
    from app.main import app

    settings = get_settings()
    monkeypatch.setattr(settings, "first_admin_email", "lifespan-admin@example.com")
    monkeypatch.setattr(
        settings, "first_admin_password", Settings(first_admin_password=PASSWORD).first_admin_password
    )
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 10_000  # the start-up heap is kept out of collections
        row = _user(database_url, "lifespan-admin@example.com")
        assert row is not None
        assert row[0] == "admin"
    finally:
        gc.unfreeze()
        with psycopg.connect(database_url) as conn:
            conn.execute("DELETE FROM users WHERE email = 'lifespan-admin@example.com'")
