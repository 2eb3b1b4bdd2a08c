"""`python -m bench.instructions`: CPU instructions per request of pgbe and of the floor, repeatable.

Requests per second on a shared machine move by a third from one minute to the next; instruction
counts do not. Each application runs in-process under valgrind's callgrind with counting off; after
a warm-up, `callgrind_control` turns counting on for N requests sent straight into the ASGI
callable (no sockets), then off. What PostgreSQL does is another process and is not counted, so the
figure is the worker's own work: the number to bisect a regression with (two runs of the same code
agree within a fraction of a percent), and the ratio pgbe / floor to read next to `make bench`'s.
The requests are those of `make bench`'s catalogue cases (E1-E5, `--cases`), or one GET of your own
(`--path`, `--query`). Needs valgrind (`apt-get install valgrind`); about 10 s per application and case.
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
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import cases, dataset
from bench.layers import _request, _scope

_COLLECTED = re.compile(r"Collected : ([\d,]+)")
_JSON = ((b"content-type", b"application/json"),)
_FORM = ((b"content-type", b"application/x-www-form-urlencoded"),)


def _count(on: bool) -> None:
    flag = "on" if on else "off"
    subprocess.run(["callgrind_control", "-i", flag, str(os.getpid())], check=True, capture_output=True)


async def _sign_in(app: Any) -> str:
    """The benchmark's staff token, from pgbe's `POST /auth/token` as a client gets it."""
    import orjson

    form = urlencode({"username": dataset.BENCH_EMAIL, "password": dataset.BENCH_PASSWORD}).encode()
    status, body = await _request(app, _scope("/auth/token", "", method="POST", headers=_FORM), form)
    if status != 200:
        raise SystemExit(f"POST /auth/token answered {status}")
    token: str = orjson.loads(body)["access_token"]
    return token


async def _inner(module: str, args: argparse.Namespace) -> None:
    """Under callgrind: warm up, then count the instructions of `n` requests."""
    app = importlib.import_module(module).app
    method, path, query, body = args.method, args.path, args.query, args.body
    headers: tuple[tuple[bytes, bytes], ...] = _JSON if body else ()
    token_file = Path(args.token_file) if args.token_file else None
    async with app.router.lifespan_context(app):
        if token_file is not None:
            if not token_file.exists():  # pgbe runs first and signs in; the floor takes pgbe's token
                token_file.write_text(await _sign_in(app))
            headers += ((b"authorization", b"Bearer " + token_file.read_bytes()),)
        unique = secrets.randbelow(10**8)  # the two runs share a database: no sku twice

        async def once(i: int) -> None:
            sent = body.replace("{rand}", str(unique + i)).encode() if body else b""
            status, answer = await _request(app, _scope(path, query, method=method, headers=headers), sent)
            if status not in (200, 201):
                raise SystemExit(f"{method} {path}?{query} answered {status}: {answer[:300]!r}")

        for i in range(100):  # statements prepared, caches filled
            await once(i)
        _count(True)
        for i in range(100, 100 + args.n):
            await once(i)
        _count(False)


def _measure(module: str, args: argparse.Namespace, request: list[str], env: dict[str, str]) -> int:
    """Instructions per request of `module`'s application (one valgrind run)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={tmp}/out"]
        command += [
            sys.executable,
            "-m",
            "bench.instructions",
            "--inner",
            module,
            "-n",
            str(args.n),
            *request,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = _COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"{module}: valgrind run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(found[-1].replace(",", "")) // int(args.n)


def _requests(args: argparse.Namespace, tmp: str) -> list[tuple[str, list[str]]]:
    """(label, the inner run's request options) of each request to measure."""
    if args.cases is None:
        return [(f"GET {args.path}?{args.query}", ["--path", args.path, "--query", args.query])]
    measured = []
    for case in cases.select(args.cases):
        if case.target != "catalogue":
            raise SystemExit(f"{case.key}: only the catalogue's cases run in-process")
        path, _, query = case.check_path().partition("?")
        options = ["--method", case.method, "--path", path, "--query", query]
        if case.body is not None:
            options += ["--body", case.body]
        if case.authenticated:
            options += ["--token-file", os.path.join(tmp, f"{case.key}.token")]
        measured.append((f"{case.key} {case.method} {case.check_path()}", options))
    return measured


def main(argv: list[str] | None = None) -> int:
    """Create the benchmark database, count pgbe's and the floor's instructions per request, print both."""
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("-n", type=int, default=200, help="requests counted per application")
    parser.add_argument("--cases", help="make bench's cases to measure (e.g. E1,E3,E5), instead of --path")
    parser.add_argument("--path", default="/products/4242")
    parser.add_argument("--query", default="include=category")
    parser.add_argument("--app", default="app.main", help="pgbe's application module")
    parser.add_argument("--floor", default="bench.floor", help="the hand-written floor's module")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="GET", help=argparse.SUPPRESS)
    parser.add_argument("--body", help=argparse.SUPPRESS)
    parser.add_argument("--token-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        import uvloop

        uvloop.run(_inner(args.inner, args))
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (apt-get install valgrind): nothing measured")
        return 1
    db = dataset.create()
    try:
        env = {**os.environ, "ENVIRONMENT": "production", "SECRET_KEY": secrets.token_urlsafe(36)}
        env["DATABASE_URL"] = db.url
        with tempfile.TemporaryDirectory() as tmp:
            print(f"instructions per request, {args.n} requests in-process ({args.app} / {args.floor})")
            print(f"  {'request':<64} {'pgbe':>10} {'floor':>10} {'pgbe/floor':>10}")
            for label, request in _requests(args, tmp):
                pgbe = _measure(args.app, args, request, env)
                floor = _measure(args.floor, args, request, env)
                print(f"  {label[:64]:<64} {pgbe:>10,} {floor:>10,} {pgbe / floor:>10.3f}", flush=True)
    finally:
        db.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
