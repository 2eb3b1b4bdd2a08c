"""The account the embedded PostgreSQL runs as when pgbe is started by root (PostgreSQL refuses root).

pgbe never creates an account: it takes an existing unprivileged one, in this order: EMBEDDED_USER
(or `run_as`), the owner of an existing data folder, the owner of the nearest existing folder above
it (the person whose project it is, under `sudo`), else `nobody`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FALLBACK = "nobody"


class EmbeddedError(RuntimeError):
    """The embedded PostgreSQL could not be found, started or stopped."""


@dataclass(frozen=True)
class Account:
    """An unprivileged account to run the server's programs as."""

    name: str
    uid: int
    gid: int

    def subprocess_options(self) -> dict[str, Any]:
        """Keyword arguments of `subprocess.run` that run the program as this account."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        """Give `path` (one folder, not its parents) to this account."""
        os.chown(path, self.uid, self.gid)

    @property
    def hint(self) -> str:
        """What to do when the account cannot reach the programs or the data folder."""
        return (
            f" (started as root, pgbe runs PostgreSQL as the existing account {self.name!r}, since "
            "PostgreSQL refuses to run as root; that account must be able to read the virtualenv and "
            "the data folder: run as an ordinary user, set EMBEDDED_USER to an account that can, "
            "or set DATABASE_URL)"
        )


def _account(name: str) -> Account:
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise EmbeddedError(f"EMBEDDED_USER={name}: no such account") from None
    if entry.pw_uid == 0:
        raise EmbeddedError(f"EMBEDDED_USER={name} is root, and PostgreSQL refuses to run as root")
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _owner_name(path: Path) -> str | None:
    import pwd

    uid = path.stat().st_uid
    if uid == 0:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None  # a uid without an account (a mounted folder): not one to run as


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def server_account(data_dir: Path, run_as: str | None) -> Account | None:
    """Return the account to run the server as; None when this process is not root (run as it is)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    name = run_as or os.environ.get("EMBEDDED_USER")
    if not name and (data_dir / "PG_VERSION").exists():
        name = _owner_name(data_dir)
    if not name:
        name = _owner_name(_nearest_existing(data_dir))
    return _account(name or FALLBACK)
