"""The `pgbe` command: run the service, manage the database, generate code."""

from __future__ import annotations

import typer

from pgbe.cli import db, erd, new, routes, run, seed, shell, users

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
app.command()(run.run)


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
