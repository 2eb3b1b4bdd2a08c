"""The embedded PostgreSQL (pgserver) used when no DATABASE_URL is configured."""

from __future__ import annotations

import os
import signal
import time
import warnings
from pathlib import Path
from typing import Any

_servers: dict[Path, Any] = {}


def _pgserver() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver


def start(data_dir: Path, *, persistent: bool = True) -> str:
    """Start (or reuse) the embedded server in `data_dir` and return its libpq URL."""
    data_dir = data_dir.resolve()
    if data_dir not in _servers:
        data_dir.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _servers[data_dir] = _pgserver().get_server(
                data_dir, cleanup_mode=None if persistent else "delete"
            )
    uri: str = _servers[data_dir].get_uri()
    return uri


def pid(data_dir: Path) -> int | None:
    """Return the postmaster's pid when an embedded server runs on `data_dir`."""
    pid_file = data_dir.resolve() / "postmaster.pid"
    try:
        number = int(pid_file.read_text().split()[0])
        os.kill(number, 0)
    except (OSError, ValueError, IndexError):
        return None
    return number


def stop(data_dir: Path, *, timeout: float = 30.0) -> bool:
    """Stop the embedded server in `data_dir` (fast shutdown); return False when none was running."""
    server = _servers.pop(data_dir.resolve(), None)
    if server is not None and server.cleanup_mode is not None:
        server.cleanup()  # a throwaway server: stopped and deleted by pgserver itself
        return True
    number = pid(data_dir)
    if number is None:
        return False
    os.kill(number, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while pid(data_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


__all__ = ["pid", "start", "stop"]
