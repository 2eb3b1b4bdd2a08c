"""`pgbe seed`: demo data for development databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from pgbe.cli.output import fail
from pgbe.project import Project
from pgbe.seeding import SeedStep, is_empty, run_steps

SEED_OPTION = "app.seed:seed_steps"

StepsFactory = Callable[..., list[SeedStep[Any]]]


def _steps_factory(project: Project) -> StepsFactory | None:
    try:
        factory: StepsFactory = project.load("seed", SEED_OPTION)
    except ModuleNotFoundError as exc:
        if exc.name and SEED_OPTION.startswith(exc.name):
            return None
        raise
    return factory


def seed_project(project: Project, *, demo_admin: bool, console: Console | None = None) -> dict[str, int]:
    """Add the project's demo rows that are missing; return how many of each kind were created."""
    factory = _steps_factory(project)
    if factory is None:
        fail("no demo data: define seed_steps(*, demo_admin) in app/seed.py")
    with project.database().SessionLocal() as db:
        return run_steps(db, factory(demo_admin=demo_admin), console=console)


def seed_if_empty(project: Project) -> None:
    """Seed a development database whose tables are all empty (what `pgbe run` does on a first start)."""
    settings = project.settings()
    if settings.environment != "development" or _steps_factory(project) is None:
        return
    tables = project.base_model().metadata.sorted_tables
    with project.database().SessionLocal() as db:
        empty = is_empty(db, tables)
    if empty:
        typer.echo("empty development database: adding demo data (pgbe seed)")
        seed_project(project, demo_admin=True)


def seed(
    force: Annotated[
        bool, typer.Option("--force", help="Seed even though ENVIRONMENT is not development")
    ] = False,
) -> None:
    """Fill the database with demo categories, products, tags, users and profiles.

    Running it again adds only what is missing. In development an admin account is included:
    admin@example.com / pgbe-demo-admin (see docs/tutorial.md). Example: pgbe seed
    """
    project = Project.find()
    settings = project.settings()
    development = settings.environment == "development"
    if not development and not force:
        fail(f"pgbe seed fills development databases; ENVIRONMENT is {settings.environment} (use --force)")
    created = seed_project(project, demo_admin=development)
    total = sum(created.values())
    typer.echo(f"demo data: {total} rows added" if total else "demo data already present: nothing added")
