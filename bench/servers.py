"""Start the servers under test (uvicorn processes), find their workers and sample their memory."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Stack:
    """A server to measure: an ASGI application, its worker count and its environment."""

    name: str
    app: str
    workers: int
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/health/live"
    cases: frozenset[str] | None = None  # the cases it runs (None: every case)


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def production_env(database_url: str, pool_size: int) -> dict[str, str]:
    """The environment of pgbe's application in production settings."""
    return {
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
        "DATABASE_URL": database_url,
        "DB_ASYNC_POOL_SIZE": str(pool_size),
        "ACCESS_TOKEN_MINUTES": "240",
    }


@dataclass
class Running:
    """A started server: its address, process and worker processes."""

    stack: Stack
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        """The server's root URL."""
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[psutil.Process]:
        """Return the processes that serve requests (the supervisor's children, or the one process)."""
        parent = psutil.Process(self.process.pid)
        if self.stack.workers == 1:
            return [parent]
        children = parent.children(recursive=False)
        return [c for c in children if "resource_tracker" not in " ".join(c.cmdline())]

    def log_tail(self, lines: int = 30) -> str:
        """Return the end of the server's output."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait_ready(running: Running, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = running.base_url + running.stack.ready_path
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"{running.stack.name} exited:\n{running.log_tail()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200 and (
                len(running.workers()) == running.stack.workers
            ):
                time.sleep(0.5 if running.stack.workers == 1 else 1.5)  # let every worker start listening
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{running.stack.name} was not ready within {timeout:.0f}s:\n{running.log_tail()}")


@contextmanager
def serve(stack: Stack, *, log_dir: Path, timeout: float = 60.0) -> Iterator[Running]:
    """Run `stack` under uvicorn (uvloop, httptools, no access log) until the block ends."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        stack.app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(stack.workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{stack.name.replace(' ', '_')}.log"
    env = {**os.environ, **stack.env, "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    running = Running(stack=stack, port=port, process=process, log_path=log_path)
    try:
        _wait_ready(running, timeout)
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class RssSampler:
    """Sample the resident memory of a server's workers in a background thread."""

    def __init__(self, running: Running, *, interval: float = 0.25) -> None:
        self.running = running
        self.interval = interval
        self.samples: list[tuple[float, list[int]]] = []
        self.cpu_seconds = 0.0
        self._cpu_start = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="rss-sampler")

    def __enter__(self) -> RssSampler:
        self._cpu_start = self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.cpu_seconds = self._cpu() - self._cpu_start

    def _cpu(self) -> float:
        """User + system CPU seconds used so far by the workers."""
        total = 0.0
        for process in self.running.workers():
            times = process.cpu_times()
            total += times.user + times.system
        return total

    def _loop(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            try:
                rss = [p.memory_info().rss for p in self.running.workers()]
            except psutil.Error:
                rss = []
            if rss:
                self.samples.append((time.monotonic() - start, rss))
            self._stop.wait(self.interval)

    def peak_mb(self) -> float:
        """The highest RSS of any worker, in MB."""
        return max((max(r) for _, r in self.samples), default=0) / 1e6
