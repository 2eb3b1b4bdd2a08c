"""The import graph keeps the contracts in pyproject's [tool.importlinter]; they catch a reversed arrow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter comes with the dev extra: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[2]


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    """Run `lint-imports` on the packages and pyproject found in `where`."""
    command = [
        sys.executable,
        "-c",
        "from importlinter.cli import lint_imports_command; lint_imports_command()",
    ]
    return subprocess.run(
        [*command, "--no-cache"], cwd=where, capture_output=True, text=True, timeout=120, check=False
    )


def test_import_graph_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "added", "broken"),
    [
        ("pgbe/db/urls.py", "import pgbe.http.problems", "pgbe.db.urls -> pgbe.http.problems"),
        ("pgbe/db/errors.py", "import pgbe.resources.endpoints", "pgbe.db.errors -> pgbe.resources"),
        ("pgbe/errors.py", "import app.main", "pgbe.errors -> app.main"),
        ("pgbe/db/read_state.py", "import pgbe.db.database", ".read_state -> .database"),  # a cycle
    ],
)
def test_import_graph_reversed_arrow_breaks_a_contract(
    tmp_path: Path, module: str, added: str, broken: str
) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "templates")
    for package in ("pgbe", "app"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    path = tmp_path / module
    path.write_text(path.read_text() + f"\n{added}  # the arrow reversed\n")

    result = _lint(tmp_path)

    assert result.returncode == 1, result.stdout
    assert broken in result.stdout
