"""`pgbe new project|resource`: generate a project, or a resource inside one."""

from __future__ import annotations

import re
import shutil
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
    executables = [target / ".ci" / "run", *(p for p in written if p.suffix == ".sh")]  # + deploy/ scripts
    for script in executables:
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return written


@app.command("project")
def new_project(
    folder: Annotated[Path, typer.Argument(help="Folder to create (must not exist, or be empty)")],
    pgbe: Annotated[
        str | None,
        typer.Option(
            "--pgbe",
            help="Where the project installs pgbe from: a wheel, a checkout (built into vendor/), "
            "git+<url>@<commit> or pgbe==<version> from your index. Default: where this pgbe came from.",
        ),
    ] = None,
) -> None:
    """Create a new pgbe project: app/, migrations, tests, Makefile, README, CI script, Dockerfile, compose.

    The project depends on pgbe, from the wheel (in vendor/) or commit recorded in pgbe-source.txt,
    and starts with users and sign-in. Example: pgbe new project shop && cd shop && make test
    """
    from pgbe.scaffold.source import SourceError, record

    target = folder.resolve()
    written = write_project(target)
    try:
        source = record(target, pgbe)
    except SourceError as exc:
        shutil.rmtree(target)
        fail(str(exc))
    typer.echo(f"created {len(written) + 1} files in {target}")
    typer.echo(f"pgbe comes from {source.requirement} ({source.origin}), recorded in pgbe-source.txt")
    typer.echo("next: cd " + str(folder) + " && make test   (then: make run, pgbe new resource ...)")


@app.command("resource")
def new_resource(
    name: Annotated[str, typer.Argument(help="CamelCase name of the entity, e.g. Article or BlogPost")],
    fields: Annotated[
        list[str],
        typer.Argument(
            help="name:type[:options]; types: str[:length], text, int, bool, float, date, datetime, "
            "fk:<table>, m2m:<table>; options: optional, unique, index, lookup"
        ),
    ],
    migrate: Annotated[
        bool, typer.Option(help="Autogenerate the migration (database brought to head)")
    ] = True,
) -> None:
    """Add a resource: model, schemas, controller, REST declaration, tests and its migration.

    Example: pgbe new resource Article title:str:200 slug:str:lookup author:fk:users tags:m2m:tags
    """
    import importlib

    from pgbe.project import Project
    from pgbe.scaffold.fields import ScaffoldError, check_class_name, parse_fields
    from pgbe.scaffold.resource import plan_resource, write_resource

    project = Project.find()
    try:
        check_class_name(name)
        specs = parse_fields(fields)
        plan = plan_resource(name, specs, project.base_model(), project.root)
        written = write_resource(plan, project.root)
    except ScaffoldError as exc:
        fail(str(exc))
    for path in written:
        typer.echo(f"wrote {path.relative_to(project.root)}")
    if not migrate:
        typer.echo(f'next: pgbe db revision --autogenerate -m "add {plan.table}", review it, pgbe db upgrade')
        return
    importlib.import_module(f"app.models.{plan.module}")
    revision = _autogenerate(project.root, f"add {plan.table}")
    typer.echo(f"wrote {revision.relative_to(project.root)}")
    typer.echo(
        "review the migration (column types, NOT NULL on tables that already hold rows, indexes, "
        "ON DELETE of foreign keys), then: pgbe db upgrade && pytest"
    )


def _autogenerate(root: Path, message: str) -> Path:
    """Bring the database to head, then autogenerate a revision from the models; return its file."""
    from alembic import command
    from alembic.util import CommandError

    from pgbe.migrations import alembic_config

    config = alembic_config(root)
    try:
        command.upgrade(config, "head")
        script = command.revision(config, message=message, autogenerate=True)
    except CommandError as exc:
        fail(f"migration not generated ({exc}); the files are written: run pgbe db revision --autogenerate")
    if script is None or isinstance(script, list):
        fail("autogenerate found no change: is the model imported in app/models/__init__.py?")
    return Path(script.path)
