"""Old import paths keep working for a release: the same objects as the new ones, with a warning."""

from __future__ import annotations

import importlib
import sys

import pytest

from pgbe.settings import PgbeSettings
from pgbe.stack import http_middleware

MOVED = [
    ("pgbe.database", ["pgbe.db.database"]),
    ("pgbe.db_errors", ["pgbe.db.errors"]),
    ("pgbe.embedded", ["pgbe.db.embedded"]),
    ("pgbe.replicas", ["pgbe.db.replicas", "pgbe.db.read_state"]),
    ("pgbe.routing", ["pgbe.db.read_session"]),
    ("pgbe.transactions", ["pgbe.db.transactions"]),
    ("pgbe.batches", ["pgbe.db.batches"]),
    ("pgbe.migration_lint", ["pgbe.migrations.lint"]),
]


@pytest.mark.parametrize(("old", "new"), MOVED)
def test_old_import_path_warns_and_exports_the_new_objects(old: str, new: list[str]) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match="moved to"):
        shim = importlib.import_module(old)
    for name in new:
        module = importlib.import_module(name)
        for attribute in module.__all__:
            assert getattr(shim, attribute) is getattr(module, attribute), f"{old}.{attribute}"


def test_observability_http_middleware_forwards_to_stack_with_a_warning() -> None:
    from pgbe.db.database import Database
    from pgbe.observability.install import http_middleware as old

    settings = PgbeSettings(cors_origins=["https://a.example"], metrics_enabled=False)
    database = Database(settings, url="postgresql://nobody@127.0.0.1:1/none")
    with pytest.warns(DeprecationWarning, match="moved to pgbe.stack"):
        forwarded = old(settings, database)
    names = [m.cls.__name__ for m in forwarded]
    assert names == [m.cls.__name__ for m in http_middleware(settings, database)]
    assert names == ["ObservabilityMiddleware", "CORSMiddleware", "CompressionMiddleware"]
