"""The README's layout is drawn from the real tree: every path it names exists, every package is named."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layout_entries() -> list[str]:
    """Return the paths in the first column of the README's layout block."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Layout\n.*?```\n(.*?)```", readme, re.S)
    assert block is not None, "README.md has no layout block"
    paths: list[str] = []
    for line in block.group(1).splitlines():
        column = re.split(r"\s{2,}", line.strip())[0]
        if not column or " " in column.replace(", ", ","):
            continue  # a continued description
        first, *others = column.split(", ")
        paths.append(first)
        top = first.split("/")[0] + "/"
        parent = first.rstrip("/").rpartition("/")[0]
        for name in others:  # a name beside the first: in the same folder, unless written in full
            if name != "...":
                paths.append(name if name.startswith(top) else f"{parent}/{name}")
    return paths


def test_readme_layout_names_only_paths_that_exist() -> None:
    missing = [path for path in _layout_entries() if not (ROOT / path).exists()]
    assert not missing, f"README.md's layout names paths that do not exist: {missing}"


def test_readme_layout_names_every_package_of_pgbe_and_app() -> None:
    named = {path.rstrip("/") for path in _layout_entries()}
    packages = [
        str(init.parent.relative_to(ROOT))
        for top in ("pgbe", "app")
        for init in (ROOT / top).glob("*/__init__.py")
    ]
    unnamed = sorted(set(packages) - named)
    assert not unnamed, f"add to README.md's layout: {unnamed}"
