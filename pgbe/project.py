"""Find the project the CLI runs in: its root, settings and application."""

from __future__ import annotations

import importlib
import sys
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pgbe.settings import PgbeSettings


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


class ProjectNotFoundError(FileNotFoundError):
    """The working directory is not inside a pgbe project."""


@dataclass
class Project:
    """A pgbe project: a folder with alembic.ini, an `app` package and optional [tool.pgbe] options."""

    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        """Return the project containing `start` (default: the working directory)."""
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / "alembic.ini").exists() and (folder / "app").is_dir():
                project = cls(folder)
                if str(folder) not in sys.path:
                    sys.path.insert(0, str(folder))
                return project
        raise ProjectNotFoundError(f"no pgbe project (alembic.ini and app/) in {here} or above")

    @cached_property
    def options(self) -> dict[str, Any]:
        """The `[tool.pgbe]` table of the project's pyproject.toml, if any."""
        path = self.root / "pyproject.toml"
        if not path.exists():
            return {}
        data = tomllib.loads(path.read_text())
        options: dict[str, Any] = data.get("tool", {}).get("pgbe", {})
        return options

    @property
    def app_ref(self) -> str:
        """Import path of the ASGI application."""
        return str(self.options.get("app", "app.main:app"))

    def settings(self) -> PgbeSettings:
        """Return the project's settings object."""
        factory = _load(str(self.options.get("settings", "app.config.settings:get_settings")))
        settings: PgbeSettings = factory()
        return settings

    @property
    def database_target(self) -> str:
        """Where the project's `Database` is, as "module:attr" (`[tool.pgbe] database`)."""
        return str(self.options.get("database", "app.config.database:database"))

    def database(self) -> Any:
        """Return the project's `Database` (from app.config.database)."""
        return _load(self.database_target)

    def load(self, option: str, default: str) -> Any:
        """Import the object named by `[tool.pgbe] <option>` (default: `default`, "module:attr")."""
        return _load(str(self.options.get(option, default)))

    def base_model(self) -> Any:
        """Return the declarative base every model of the project derives from (models imported)."""
        return self.load("models", "app.models:BaseModel")
