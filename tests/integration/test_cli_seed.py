"""`pgbe seed` and the first-start seeding of `pgbe run`, on databases of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from alembic import command

from pgbe.auth.passwords import verify_password
from pgbe.migrations import alembic_config

ROOT = Path(__file__).resolve().parents[2]
PGBE = [sys.executable, "-m", "pgbe.cli"]
COUNTED = ("categories", "products", "tags", "product_tags", "users", "profiles")


@pytest.fixture
def migrated_url(scratch_database: str) -> str:
    command.upgrade(alembic_config(ROOT, url=scratch_database), "head")
    return scratch_database


def _env(url: str, environment: str = "development") -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "ENVIRONMENT": environment}
    env["SECRET_KEY"] = "s" * 40
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PGBE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED}  # type: ignore[index]


def test_seed_twice_second_run_adds_nothing(migrated_url: str) -> None:
    first = _run(["seed"], _env(migrated_url))
    assert first.returncode == 0, first.stderr
    after_first = _counts(migrated_url)
    second = _run(["seed"], _env(migrated_url))
    assert second.returncode == 0, second.stderr
    assert "nothing added" in second.stdout
    assert _counts(migrated_url) == after_first
    assert after_first["categories"] >= 5
    assert after_first["products"] >= 20
    assert after_first["product_tags"] >= 20
    assert after_first["profiles"] == after_first["users"]
    # Without a terminal the progress is one plain line per kind of row.
    output = first.stdout + first.stderr
    assert "\x1b[" not in output
    assert "\r" not in output
    assert "seeded products: 24 created, 24 in total" in first.stdout.splitlines()
    # Development includes the documented demo admin.
    with psycopg.connect(migrated_url) as conn:
        row = conn.execute(
            "SELECT role, hashed_password FROM users WHERE email = 'admin@example.com'"
        ).fetchone()
    assert row is not None
    assert row[0] == "admin"
    assert verify_password("pgbe-demo-admin", row[1])[0]


def test_seed_outside_development_refuses_unless_forced_and_has_no_demo_admin(migrated_url: str) -> None:
    refused = _run(["seed"], _env(migrated_url, "staging"))
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "error: pgbe seed fills development databases; ENVIRONMENT is staging (use --force)"
    ]
    assert _counts(migrated_url)["products"] == 0
    assert _run(["seed", "--force"], _env(migrated_url, "staging")).returncode == 0
    with psycopg.connect(migrated_url) as conn:
        admins = conn.execute("SELECT count(*) FROM users WHERE role = 'admin'").fetchone()
    assert admins == (0,)
    assert _counts(migrated_url)["products"] == 24


SEED_IF_EMPTY = (
    "from pgbe.cli.seed import seed_if_empty; from pgbe.project import Project; seed_if_empty(Project.find())"
)


def _seed_if_empty(url: str, environment: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SEED_IF_EMPTY], cwd=ROOT, env=_env(url, environment), capture_output=True
    )
    assert result.returncode == 0, result.stderr


def test_seed_if_empty_seeds_only_development(migrated_url: str) -> None:
    _seed_if_empty(migrated_url, "staging")
    assert _counts(migrated_url)["products"] == 0
    _seed_if_empty(migrated_url, "development")
    assert _counts(migrated_url)["products"] == 24


def test_seed_if_empty_leaves_a_database_with_rows_alone(migrated_url: str) -> None:
    with psycopg.connect(migrated_url) as conn:
        conn.execute("INSERT INTO tags (name) VALUES ('mine')")
    _seed_if_empty(migrated_url, "development")
    assert _counts(migrated_url)["tags"] == 1
    assert _counts(migrated_url)["products"] == 0
