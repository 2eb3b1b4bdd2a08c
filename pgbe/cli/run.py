"""`pgbe run`: apply migrations, seed an empty development database, serve with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from pgbe.cli import db
from pgbe.project import Project


def run(
    workers: Annotated[int | None, typer.Option("--workers", "-w", help="Worker processes")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development)")] = False,
    migrate: Annotated[bool, typer.Option(help="Apply pending migrations first")] = True,
) -> None:
    """Start the service (migrations applied first). Example: pgbe run --workers 2"""
    import uvicorn

    from pgbe.http.server import server_options
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
        docs = " (docs at /docs)" if settings.docs_enabled else ""
        typer.echo(f"serving on http://{resolved_host}:{resolved_port}{docs} as {settings.environment}")
        uvicorn.run(
            project.app_ref,
            host=resolved_host,
            port=resolved_port,
            workers=resolved_workers,
            reload=reload,
            app_dir=str(project.root),
            **server_options(settings),
        )
    finally:
        if lease is not None:
            typer.echo(lease.release())
