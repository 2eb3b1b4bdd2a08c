"""`pgbe new project|resource`: generate a project, or a resource inside one."""

from __future__ import annotations

import re
import stat
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated

import typer

from pgbe.cli.output import fail

app = typer.Typer(help="Generate a project or a resource.", no_args_is_help=True)

TEMPLATE_SUFFIX = ".tmpl"


def _templates(kind: str) -> Traversable:
    return files("pgbe").joinpath("templates", kind)


def _walk(folder: Traversable, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Traversable]]:
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            found.extend(_walk(entry, (*prefix, entry.name)))
        elif entry.name.endswith(TEMPLATE_SUFFIX):
            found.append(((*prefix, entry.name), entry))
    return found


def _target_name(part: str) -> str:
    part = part.removesuffix(TEMPLATE_SUFFIX)
    return "." + part.removeprefix("dot-") if part.startswith("dot-") else part


def render(text: str, values: dict[str, str]) -> str:
    """Replace every `{{name}}` of `text` with `values[name]`."""
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def project_name(folder: Path) -> str:
    """Return a package-friendly project name from a folder name (`My Shop` -> `my-shop`)."""
    name = re.sub(r"[^a-z0-9]+", "-", folder.name.lower()).strip("-")
    if not name or not name[0].isalpha():
        fail(f"cannot derive a project name from {folder.name!r}: start the folder name with a letter")
    return name


def write_project(target: Path) -> list[Path]:
    """Write a fresh project into `target` (absent or empty) and return the files written."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        fail(f"{target} exists and is not empty: choose a new folder")
    values = {"project_name": project_name(target)}
    written = []
    for parts, source in _walk(_templates("project")):
        path = target.joinpath(*(_target_name(p) for p in parts))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(source.read_text(), values))
        written.append(path)
    ci = target / ".ci" / "run"
    ci.chmod(ci.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return written


@app.command("project")
def new_project(
    folder: Annotated[Path, typer.Argument(help="Folder to create (must not exist, or be empty)")],
) -> None:
    """Create a new pgbe project: app/, migrations, tests, Makefile, README and CI script.

    The project depends on pgbe (installed by its Makefile) and starts with users and sign-in.
    Example: pgbe new project shop && cd shop && make test
    """
    target = folder.resolve()
    written = write_project(target)
    typer.echo(f"created {len(written)} files in {target}")
    typer.echo("next: cd " + str(folder) + " && make test   (then: make run, pgbe new resource ...)")
