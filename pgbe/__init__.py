"""pgbe: a batteries-included backend framework for Python on PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pgbe.app import AdminSite, create_app

_LAZY = {"AdminSite": "pgbe.app", "create_app": "pgbe.app"}


def __getattr__(name: str) -> Any:
    # Imported on first use: `import pgbe.settings` (the CLI, env.py) must not build the web stack.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pgbe' has no attribute {name!r}")


__all__ = ["AdminSite", "__version__", "create_app"]
