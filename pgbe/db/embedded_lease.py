"""A lease on the embedded PostgreSQL for as long as a `pgbe run` serves: the last run out stops it.

A server that `pgbe run` started is stopped when the last run holding it ends (Ctrl-C included). A
server started by `pgbe db start` keeps running until `pgbe db stop`. The runs holding a server are
listed by pid in `pgbe-leases.json` inside its data folder; runs that died without ending are skipped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pgbe.db import embedded

LEASES = "pgbe-leases.json"


def _read(data_dir: Path) -> list[int] | None:
    """The pids of the live runs holding the server; None when no run started it."""
    try:
        pids = json.loads((data_dir / LEASES).read_text())
    except (OSError, ValueError):
        return None
    return [number for number in pids if isinstance(number, int) and embedded.alive(number)]


def _write(data_dir: Path, pids: list[int]) -> None:
    (data_dir / LEASES).write_text(json.dumps(pids))


def forget(data_dir: Path) -> None:
    """Make a running server an explicitly started one (`pgbe db start`): no run stops it."""
    (data_dir.resolve() / LEASES).unlink(missing_ok=True)


@dataclass
class Lease:
    """This process's hold on the embedded server in `data_dir`."""

    data_dir: Path
    url: str
    leased: bool  # False: the server was started by `pgbe db start`, and stays up

    def release(self) -> str:
        """Give the lease back; stop the server when no other run holds it. Return what happened."""
        if not self.leased:
            return "embedded PostgreSQL keeps running (started by pgbe db start; stop it with pgbe db stop)"
        with embedded.locked(self.data_dir):
            pids = _read(self.data_dir)
            if pids is None:
                return "embedded PostgreSQL keeps running (pgbe db start took it over; pgbe db stop stops it)"
            others = [number for number in pids if number != os.getpid()]
            if others:
                _write(self.data_dir, others)
                return f"embedded PostgreSQL keeps running for pgbe run (pid {others[0]})"
            forget(self.data_dir)
        embedded.stop(self.data_dir)
        return "embedded PostgreSQL stopped"


def acquire(data_dir: Path, *, run_as: str | None = None) -> Lease:
    """Start the embedded server if needed and hold it for this process."""
    data_dir = data_dir.resolve()
    with embedded.locked(data_dir):
        was_running = embedded.pid(data_dir) is not None
        pids = _read(data_dir) if was_running else []
        if pids is None:
            return Lease(data_dir, embedded.start(data_dir, run_as=run_as, lock=False), leased=False)
        url = embedded.start(data_dir, run_as=run_as, lock=False)
        _write(data_dir, [*pids, os.getpid()])
    return Lease(data_dir, url, leased=True)
