"""Real servers for fault tests: a private PostgreSQL cluster and the application under uvicorn."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from psycopg import sql


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _postgres_bindir() -> Path | None:
    configured = os.environ.get("PGBE_PG_BINDIR")
    candidates = [configured] if configured else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PostgresCluster:
    """A throwaway PostgreSQL cluster on a free loopback port that a test may restart or stop.

    Uses the system's PostgreSQL binaries (`PGBE_PG_BINDIR`, else /usr/lib/postgresql/*/bin, else
    `pg_ctl` on PATH); as root it runs them as the `postgres` OS user, since PostgreSQL refuses root.
    """

    def __init__(self, bindir: Path, folder: Path, port: int, run_as: str | None) -> None:
        self.bindir = bindir
        self.folder = folder
        self.data = folder / "data"
        self.port = port
        self.run_as = run_as

    @classmethod
    def available(cls) -> bool:
        """Tell whether PostgreSQL binaries (and a non-root user when root) exist on this machine."""
        if _postgres_bindir() is None:
            return False
        if os.geteuid() != 0:
            return True
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False
        return True

    @classmethod
    def create(cls) -> PostgresCluster:
        """Initialise and start a cluster in a new temporary folder."""
        bindir = _postgres_bindir()
        if bindir is None:
            raise RuntimeError("no PostgreSQL binaries found (set PGBE_PG_BINDIR)")
        run_as = "postgres" if os.geteuid() == 0 else None
        folder = Path(tempfile.mkdtemp(prefix="pgbe-cluster-"))
        if run_as:
            entry = pwd.getpwnam(run_as)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        folder.chmod(0o700)
        cluster = cls(bindir, folder, free_port(), run_as)
        cluster._run("initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "-N")
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {cluster.port}\n"
                f"unix_socket_directories = '{folder}'\n"
                "fsync = off\nfull_page_writes = off\nmax_connections = 60\n"
            )
        cluster.start()
        return cluster

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / tool), *args]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)  # noqa: S603

    def url(self, database: str = "postgres") -> str:
        """Return the libpq URL of a database on this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: roll back open transactions, close sessions)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Restart the server, closing every session."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-m", mode, "-w", "restart"
        )

    def create_database(self, name: str) -> str:
        """Create database `name` and return its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def destroy(self) -> None:
        """Stop the server if it runs and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


class AppServer:
    """The project's ASGI application served by uvicorn in a subprocess, configured by environment."""

    def __init__(self, root: Path, env: dict[str, str], *, app: str = "app.main:app") -> None:
        self.root = root
        self.env = env
        self.app = app
        self.port = free_port()
        self.log_path = Path(tempfile.mkstemp(prefix="pgbe-app-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, graceful_seconds: float = 10, ready_timeout: float = 180) -> AppServer:
        """Start uvicorn and wait until the application answers its liveness check."""
        command = [
            sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(self.port),
            "--timeout-graceful-shutdown", str(graceful_seconds), "--no-access-log",
        ]  # fmt: skip
        env = {**os.environ, **self.env}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603
                command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the application exited at start-up:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the application did not start:\n{self.log()}")

    def terminate(self) -> None:
        """Send SIGTERM (graceful shutdown) without waiting."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit and return its exit code."""
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Stop the server gracefully, killing it if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.terminate()
        try:
            self.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.wait(10)

    def log(self) -> str:
        """Return what the server printed."""
        return self.log_path.read_text(errors="replace")

    def unexpected_errors(self) -> list[str]:
        """Return the tracebacks the server logged, each with the log message that introduced it.

        asyncpg's own warning while it cannot restore its pool's minimum size (the database is down)
        is expected, and left out, with the tracebacks chained to it.
        """
        blocks: list[str] = []
        lines = self.log().splitlines()
        benign = False
        for i, line in enumerate(lines):
            if not line.startswith("Traceback"):
                continue
            message = lines[i - 1] if i else ""
            chained = message == "" or message.startswith(("During handling", "The above exception"))
            if not chained:
                benign = "Failed to restore the pool connection floor" in message
            if benign:
                continue
            end = i + 1
            while end < len(lines) and lines[end].startswith(" "):
                end += 1
            blocks.append("\n".join(lines[max(i - 1, 0) : end + 1]))
        return blocks
