"""A generated project and this repository's app/ are wired by the same pgbe calls, and nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pgbe.cli.new import write_project

ROOT = Path(__file__).resolve().parents[2]
WIRING_FILES = ("app/main.py", "migrations/env.py")


def _pgbe_calls(path: Path) -> dict[str, tuple[str, ...]]:
    """Return each call of a name imported from pgbe, with the keyword names it passes."""
    tree = ast.parse(path.read_text())
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pgbe"
        for alias in node.names
    }
    return {
        node.func.id: tuple(sorted(str(k.arg) for k in node.keywords))
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in imported
    }


def _definitions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("generated") / "shop"
    write_project(target)
    return target


@pytest.mark.parametrize("name", WIRING_FILES)
def test_generated_project_and_app_call_the_same_pgbe_wiring(generated: Path, name: str) -> None:
    ours, theirs = _pgbe_calls(ROOT / name), _pgbe_calls(generated / name)

    assert ours == theirs
    assert set(ours) <= {"create_app", "AdminSite", "run_env"}


@pytest.mark.parametrize("name", WIRING_FILES)
def test_wiring_files_hold_only_the_project_choices(generated: Path, name: str) -> None:
    for path in (ROOT / name, generated / name):
        code = [line for line in path.read_text().splitlines() if line.strip()]
        assert len(code) <= 25, f"{path}: {len(code)} lines"
        assert _definitions(path) == [], f"{path} defines its own wiring"
