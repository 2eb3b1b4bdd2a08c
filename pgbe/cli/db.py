"""`pgbe db ...`: the embedded database and Alembic's commands."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from alembic import command
from alembic.util import CommandError

from pgbe.cli.output import fail
from pgbe.db import embedded, embedded_lease
from pgbe.db.database import describe, libpq_dsn, resolve_url
from pgbe.migrations import alembic_config
from pgbe.project import Project

app = typer.Typer(help="The database: embedded server and migrations.", no_args_is_help=True)


def _data_dir(project: Project) -> Path:
    return project.root / project.settings().embedded_data_dir


@app.command()
def start() -> None:
    """Start the embedded PostgreSQL (data in .pgbe/data). Example: pgbe db start"""
    project = Project.find()
    url = embedded.start(_data_dir(project), run_as=project.settings().embedded_user)
    embedded_lease.forget(_data_dir(project))  # started on purpose: no `pgbe run` stops it
    typer.echo(f"embedded PostgreSQL running: {describe(url)}")


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL. Example: pgbe db stop"""
    project = Project.find()
    embedded_lease.forget(_data_dir(project))
    if embedded.stop(_data_dir(project)):
        typer.echo("embedded PostgreSQL stopped")
    else:
        typer.echo("embedded PostgreSQL was not running")


@app.command()
def status() -> None:
    """Say which database the project uses and whether the embedded one runs. Example: pgbe db status"""
    project = Project.find()
    settings = project.settings()
    if settings.database_url:
        typer.echo(f"configured: {describe(settings.database_url)}")
        return
    pid = embedded.pid(_data_dir(project))
    typer.echo(f"embedded: {'running, pid ' + str(pid) if pid else 'stopped'} ({_data_dir(project)})")


@app.command()
def url() -> None:
    """Print the database URL (starting the embedded server if needed). Example: psql "$(pgbe db url)" """
    project = Project.find()
    typer.echo(libpq_dsn(resolve_url(project.settings())))


@app.command()
def psql() -> None:
    """Open psql on the project's database. Example: pgbe db psql"""
    project = Project.find()
    settings = project.settings()
    dsn = libpq_dsn(resolve_url(settings))
    # The embedded server's own psql; for a configured server, the one on PATH if any.
    found = shutil.which("psql") if settings.database_url else None
    binary = found or str(embedded.binary("psql"))
    os.execvp(binary, [binary, dsn])  # noqa: S606 - replaces the CLI with psql on purpose


def _run(action: str, *args: str, attributes: dict[str, object] | None = None, **kwargs: object) -> None:
    project = Project.find()
    config = alembic_config(project.root, configure_logging=True)
    config.attributes.update(attributes or {})
    try:
        getattr(command, action)(config, *args, **kwargs)
    except CommandError as exc:
        fail(str(exc))


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target: head, a revision id or +N")] = "head",
    sql: Annotated[bool, typer.Option("--sql", help="Print the SQL instead of running it")] = False,
) -> None:
    """Apply migrations (alembic upgrade). Example: pgbe db upgrade head"""
    _run("upgrade", revision, sql=sql)


@app.command(context_settings={"ignore_unknown_options": True})  # `-1` is a revision, not an option
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target: base, a revision id or -N")],
    sql: Annotated[bool, typer.Option("--sql", help="Print the SQL instead of running it")] = False,
) -> None:
    """Revert migrations (alembic downgrade). Example: pgbe db downgrade -1"""
    _run("downgrade", revision, sql=sql)


@app.command()
def revision(
    message: Annotated[str, typer.Option("-m", "--message", help="What the revision changes")],
    autogenerate: Annotated[bool, typer.Option("--autogenerate", help="Compare models and database")] = False,
) -> None:
    """Create a revision (alembic revision). Example: pgbe db revision --autogenerate -m "add sku" """
    _run("revision", message=message, autogenerate=autogenerate, attributes={"autogenerate": autogenerate})


@app.command()
def current(verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False) -> None:
    """Show the database's revision (alembic current). Example: pgbe db current -v"""
    _run("current", verbose=verbose)


@app.command()
def history(
    verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False,
    indicate_current: Annotated[bool, typer.Option("-i", "--indicate-current")] = False,
) -> None:
    """Show the revision history (alembic history). Example: pgbe db history -i"""
    _run("history", verbose=verbose, indicate_current=indicate_current)


@app.command()
def stamp(revision: Annotated[str, typer.Argument(help="Revision to record without running it")]) -> None:
    """Record a revision without running migrations (alembic stamp). Example: pgbe db stamp head"""
    _run("stamp", revision)


@app.command()
def check() -> None:
    """Fail when the models and the migrations disagree (alembic check). Example: pgbe db check"""
    _run("check")


@app.command()
def lint(
    pg_version: Annotated[str, typer.Option(help="PostgreSQL version the migrations run on")] = "15",
    indexes: Annotated[
        bool, typer.Option("--indexes/--no-indexes", help="Check the live database's indexes too")
    ] = True,
) -> None:
    """Lint the migrations for lock hazards and the indexes for the allow-lists. Example: pgbe db lint"""
    from pgbe.migrations.lint import main as lint_main

    project = Project.find()
    status = lint_main(project.root, pg_version=pg_version)
    if indexes:
        status = max(status, _lint_indexes(project))
    raise typer.Exit(status)


def _lint_indexes(project: Project) -> int:
    """Print which allow-listed sorts and filters no index serves; 1 when some index is missing."""
    from sqlalchemy.exc import DBAPIError

    from pgbe.resources.index_report import format_report, missing
    from pgbe.resources.indexes import check_resources

    registry = getattr(project.load("app", project.app_ref).state, "resources", None)
    resources = [runtime.resource for runtime in registry.runtimes] if registry is not None else []
    try:
        with project.database().engine.connect() as conn:
            findings, missing_tables = check_resources(
                conn, resources, ignore=project.settings().index_check_ignore
            )
    except DBAPIError as exc:
        typer.echo(
            f"error: indexes not checked: the database did not answer ({type(exc.orig).__name__})", err=True
        )
        return 2
    typer.echo(format_report(findings, missing_tables))
    return 1 if missing(findings) else 0


def ensure_database_ready(project: Project) -> None:
    """Start the embedded database if needed and apply pending migrations."""
    settings = project.settings()
    target = describe(resolve_url(settings))
    typer.echo(f"database: {target}{'' if settings.database_url else ' (embedded)'}")
    config = alembic_config(project.root)
    try:
        command.upgrade(config, "head")
    except CommandError as exc:
        fail(f"migrations failed: {exc}")
