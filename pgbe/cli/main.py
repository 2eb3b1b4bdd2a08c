"""The `pgbe` command: run the service, manage the database, generate code."""

from __future__ import annotations

from typing import Annotated

import typer

from pgbe.cli import db, erd, new, routes, seed, shell, users
from pgbe.project import Project

app = typer.Typer(
    help="pgbe: a backend framework for Python on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(new.app, name="new")
app.command()(seed.seed)
app.command()(users.createsuperuser)
app.command()(routes.routes)
app.command()(shell.shell)
app.command()(erd.erd)


@app.command()
def run(
    workers: Annotated[int | None, typer.Option("--workers", "-w", help="Worker processes")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development)")] = False,
    migrate: Annotated[bool, typer.Option(help="Apply pending migrations first")] = True,
) -> None:
    """Start the service (migrations applied first). Example: pgbe run --workers 2"""
    import uvicorn

    from pgbe.observability.install import prepare_server

    project = Project.find()
    settings = project.settings()
    resolved_workers = None if reload else (workers or settings.workers)
    resolved_host = host or settings.host
    prepare_server(settings, workers=resolved_workers or 1, host=resolved_host)
    lease = None
    if not settings.database_url:
        from pgbe.db import embedded_lease

        lease = embedded_lease.acquire(settings.embedded_data_dir, run_as=settings.embedded_user)
    try:
        if migrate:
            db.ensure_database_ready(project)
        from pgbe.cli.seed import seed_if_empty

        seed_if_empty(project)
        resolved_port = port or settings.port
        typer.echo(f"serving on http://{resolved_host}:{resolved_port} (docs at /docs)")
        uvicorn.run(
            project.app_ref,
            host=resolved_host,
            port=resolved_port,
            workers=resolved_workers,
            reload=reload,
            app_dir=str(project.root),
            proxy_headers=True,
            timeout_graceful_shutdown=30,
            log_config=None,  # pgbe's handler (prepare_server), so the server's lines share the format
            access_log=False,  # pgbe.access writes one line per request
            log_level=settings.log_level.lower(),
            h11_max_incomplete_event_size=65_536,
        )
    finally:
        if lease is not None:
            typer.echo(lease.release())


def main() -> None:
    """Entry point of the console script: expected failures print one line and exit 1."""
    from sqlalchemy.exc import OperationalError

    from pgbe.db.embedded_account import EmbeddedError
    from pgbe.extras import MissingExtraError
    from pgbe.project import ProjectNotFoundError

    try:
        app()
    except (ProjectNotFoundError, MissingExtraError) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(1) from None
    except EmbeddedError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(1) from None
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        typer.secho(f"error: database unavailable: {reason}", err=True, fg=typer.colors.RED)
        raise SystemExit(1) from None
