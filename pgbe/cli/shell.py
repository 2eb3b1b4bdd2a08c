"""`pgbe shell`: a Python shell with a database session `db` and every model imported."""

from __future__ import annotations

import code
import sys
import traceback
from typing import Any

import sqlalchemy
import typer

from pgbe.project import Project


def namespace(project: Project, db: Any) -> dict[str, Any]:
    """Return the shell's globals: `db`, `settings`, every model class and SQLAlchemy's helpers."""
    base = project.base_model()
    names: dict[str, Any] = {
        "db": db,
        "settings": project.settings(),
        "select": sqlalchemy.select,
        "func": sqlalchemy.func,
        "text": sqlalchemy.text,
    }
    for mapper in base.registry.mappers:
        names[mapper.class_.__name__] = mapper.class_
    return names


def shell() -> None:
    """Open a Python shell with `db` (a Session), `settings` and every model imported.

    Piped input runs as a script, so the shell works in scripts too. Changes need `db.commit()`.
    Example: echo 'print(db.scalar(select(func.count()).select_from(Product)))' | pgbe shell
    """
    project = Project.find()
    with project.database().SessionLocal() as db:
        names = namespace(project, db)
        if not sys.stdin.isatty():
            source = sys.stdin.read()
            try:
                exec(compile(source, "<stdin>", "exec"), names)  # noqa: S102 - running the user's code is the point
            except Exception:
                traceback.print_exc()
                raise typer.Exit(1) from None
            return
        models = sorted(k for k, v in names.items() if isinstance(v, type))
        banner = f"pgbe shell: db (Session), settings, select, func, text; models: {', '.join(models)}"
        try:
            import readline
            import rlcompleter

            readline.set_completer(rlcompleter.Completer(names).complete)
            readline.parse_and_bind("tab: complete")
        except ImportError:  # pragma: no cover - readline is missing on some platforms
            pass
        code.interact(banner=banner, local=names, exitmsg="")
