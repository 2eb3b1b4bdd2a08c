"""`python -m bench.instructions`: CPU instructions per request of pgbe and of the floor, repeatable.

Requests per second on a shared machine move by a third from one minute to the next; instruction
counts do not. Each application runs in-process under valgrind's callgrind with counting off; after
a warm-up, `callgrind_control` turns counting on for N requests sent straight into the ASGI
callable (no sockets), then off. What PostgreSQL does is another process and is not counted, so the
figure is the worker's own work: the number to bisect a regression with (two runs of the same code
agree within a fraction of a percent), and the ratio pgbe / floor to read next to `make bench`'s.
Needs valgrind (`apt-get install valgrind`); about 10 s per application.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from bench import dataset
from bench.layers import _call, _scope

_COLLECTED = re.compile(r"Collected : ([\d,]+)")


async def _get(app: Any, path: str, query: str) -> None:
    """One GET straight into the ASGI callable; anything but 200 ends the run."""
    status = await _call(app, _scope(path, query))
    if status != 200:
        raise SystemExit(f"GET {path}?{query} answered {status}")


def _count(on: bool) -> None:
    flag = "on" if on else "off"
    subprocess.run(["callgrind_control", "-i", flag, str(os.getpid())], check=True, capture_output=True)


async def _inner(module: str, path: str, query: str, n: int) -> None:
    """Under callgrind: warm up, then count the instructions of `n` requests."""
    app = importlib.import_module(module).app
    async with app.router.lifespan_context(app):
        for _ in range(100):  # statements prepared, caches filled
            await _get(app, path, query)
        _count(True)
        for _ in range(n):
            await _get(app, path, query)
        _count(False)


def _measure(module: str, args: argparse.Namespace, env: dict[str, str]) -> int:
    """Instructions per request of `module`'s application (one valgrind run)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={tmp}/callgrind.out",
            sys.executable,
            "-m",
            "bench.instructions",
            "--inner",
            module,
            "-n",
            str(args.n),
            "--path",
            args.path,
            "--query",
            args.query,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = _COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"{module}: valgrind run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(found[-1].replace(",", "")) // int(args.n)


def main(argv: list[str] | None = None) -> int:
    """Create the benchmark database, count pgbe's and the floor's instructions per request, print both."""
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("-n", type=int, default=200, help="requests counted per application")
    parser.add_argument("--path", default="/products/4242")
    parser.add_argument("--query", default="include=category")
    parser.add_argument("--app", default="app.main", help="pgbe's application module")
    parser.add_argument("--floor", default="bench.floor", help="the hand-written floor's module")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        import uvloop

        uvloop.run(_inner(args.inner, args.path, args.query, args.n))
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (apt-get install valgrind): nothing measured")
        return 1
    db = dataset.create()
    try:
        env = {**os.environ, "ENVIRONMENT": "production", "SECRET_KEY": secrets.token_urlsafe(36)}
        env["DATABASE_URL"] = db.url
        pgbe = _measure(args.app, args, env)
        floor = _measure(args.floor, args, env)
    finally:
        db.drop()
    print(f"GET {args.path}?{args.query}: instructions per request, {args.n} requests in-process")
    print(f"  pgbe  ({args.app})  {pgbe:>10,}")
    print(f"  floor ({args.floor})  {floor:>10,}")
    print(f"  pgbe / floor  {pgbe / floor:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
