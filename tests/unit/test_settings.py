"""Settings: environment and `.env`, the default secret refused outside development, documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config.settings import Settings
from pgbe.settings import DEFAULT_SECRET_KEY, PgbeSettings

ROOT = Path(__file__).resolve().parents[2]
_DOCUMENTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def _documented_variables() -> set[str]:
    return set(_DOCUMENTED.findall((ROOT / ".env.example").read_text()))


@pytest.fixture(autouse=True)
def _no_secret_from_the_test_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test run sets SECRET_KEY and ENVIRONMENT=test; these tests start from a bare environment."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "development")


@pytest.mark.parametrize("environment", ["production", "staging", "test"])
def test_default_secret_outside_development_is_refused(environment: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        PgbeSettings(environment=environment, _env_file=None)  # type: ignore[arg-type]


def test_short_secret_in_production_is_refused() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        PgbeSettings(environment="production", secret_key="too-short", _env_file=None)  # type: ignore[arg-type]


def test_random_secret_in_production_is_accepted() -> None:
    secret = "k" * 48
    settings = PgbeSettings(environment="production", secret_key=secret, _env_file=None)  # type: ignore[arg-type]
    assert settings.secret_key.get_secret_value() == secret
    assert not settings.is_development


def test_default_secret_in_development_is_accepted() -> None:
    settings = PgbeSettings(environment="development", _env_file=None)  # type: ignore[arg-type]
    assert settings.secret_key.get_secret_value() == DEFAULT_SECRET_KEY
    assert settings.is_development


def test_secret_key_is_hidden_in_repr() -> None:
    settings = PgbeSettings(environment="development", _env_file=None)  # type: ignore[arg-type]
    assert DEFAULT_SECRET_KEY not in repr(settings)


def test_dotenv_in_working_directory_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("DB_POOL_SIZE=3\nSQL_ECHO=true\nPROJECT_NAME=from-dotenv\n")
    monkeypatch.chdir(tmp_path)
    for name in ("DB_POOL_SIZE", "SQL_ECHO", "PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)
    settings = PgbeSettings()
    assert (settings.db_pool_size, settings.sql_echo, settings.project_name) == (3, True, "from-dotenv")


def test_environment_variable_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("DB_POOL_SIZE=3\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DB_POOL_SIZE", "7")
    assert PgbeSettings().db_pool_size == 7


def test_dotenv_production_without_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("ENVIRONMENT=production\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        PgbeSettings()


def test_invalid_pool_size_is_refused() -> None:
    with pytest.raises(ValidationError):
        PgbeSettings(db_pool_size=0, _env_file=None)  # type: ignore[arg-type]


def test_env_example_documents_every_setting() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    undocumented = fields - _documented_variables()
    assert not undocumented, f"add to .env.example: {sorted(undocumented)}"


def test_env_example_documents_only_real_settings() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    unknown = _documented_variables() - fields
    assert not unknown, f".env.example names settings that do not exist: {sorted(unknown)}"


def test_env_example_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    assert settings.environment == "development"
    assert settings.database_url is None
