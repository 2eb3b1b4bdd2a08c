"""Everyday commands: `pgbe routes`, `pgbe shell`, `pgbe erd` and `--help` on every command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi import FastAPI
from typer.testing import CliRunner

from app.models import BaseModel
from pgbe.auth.dependencies import CurrentUser, require_role
from pgbe.auth.permissions import has_role
from pgbe.cli.erd import render, to_dot
from pgbe.cli.main import app as cli
from pgbe.cli.routes import collect_routes, format_table

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.extend(_commands(command, (*prefix, name)))
        else:
            found.append((*prefix, name))
    return found


ALL_COMMANDS = _commands(typer.main.get_command(cli))
assert len(ALL_COMMANDS) > 10


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=" ".join)
def test_help_every_command_shows_an_example(command: tuple[str, ...]) -> None:
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


def test_routes_app_lists_methods_paths_permissions_and_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(cli, ["routes"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["METHOD", "PATH", "PERMISSION", "NAME"]
    assert any(line.split() == ["GET", "/auth/me", "current_user", "me"] for line in lines)
    assert any(line.split() == ["GET", "/health/live", "public", "live"] for line in lines)
    assert any(
        line.split() == ["POST", "/products", "role", "admin|staff", "create_products"] for line in lines
    )
    assert any(line.split() == ["GET", "/products", "public", "list_products"] for line in lines)
    assert any(
        line.split()[:3] == ["GET", "/profiles/{id}", "authenticated"] and "(own rows)" in line
        for line in lines
    )


def test_routes_hand_written_dependencies_name_roles_and_users() -> None:
    app = FastAPI()

    @app.get("/reports", dependencies=[require_role("admin", "staff")])
    def reports() -> list[str]:
        return []

    @app.get("/me")
    def me(user: CurrentUser) -> str:
        return str(user)

    @app.post("/declared")
    def declared() -> None:
        return None

    declared.permissions = {"POST": has_role("admin")}  # type: ignore[attr-defined]
    table = format_table(list(collect_routes(app.routes)))
    rows = {tuple(line.split()[:3]) for line in table.splitlines()}
    assert ("GET", "/reports", "role") in rows  # "role admin|staff"
    assert "role admin|staff" in table
    assert ("GET", "/me", "current_user") in rows
    assert ("POST", "/declared", "role") in rows


def test_routes_without_project_fails_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pgbe.cli", "routes"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: no pgbe project")


def _shell(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgbe.cli", "shell"],
        cwd=ROOT,
        input=code,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_shell_piped_code_sees_db_and_every_model() -> None:
    code = (
        "print(sorted(n for n in ('Category', 'Product', 'Profile', 'Tag', 'User') if n in globals()))\n"
        "print(db.scalar(select(func.count()).select_from(Category)) >= 0, Product.__tablename__)\n"
    )
    result = _shell(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "['Category', 'Product', 'Profile', 'Tag', 'User']",
        "True products",
    ]


def test_shell_piped_code_raising_exits_non_zero() -> None:
    result = _shell("db.execute(text('SELECT * FROM no_such_table'))\n")
    assert result.returncode == 1
    assert "no_such_table" in result.stderr


def test_erd_dot_has_every_table_and_foreign_key() -> None:
    source = to_dot(BaseModel.metadata)
    for table in ("categories", "products", "tags", "product_tags", "users", "profiles"):
        assert f'"{table}" [label=' in source
    assert '"categories":"id_out":e -> "products":"category_id":w [arrowhead=crow' in source
    assert '"users":"id_out":e -> "profiles":"user_id":w [arrowhead=tee' in source


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` is not installed")


@needs_dot
def test_erd_render_writes_png_and_svg(tmp_path: Path) -> None:
    png, svg = render(to_dot(BaseModel.metadata), tmp_path / "schema")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()
    assert "product_tags" in svg.read_text()


@needs_dot
def test_erd_cli_output_option_writes_both_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(cli, ["erd", "-o", str(tmp_path / "erd")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["erd.png", "erd.svg"]
