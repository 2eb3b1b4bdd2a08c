"""`python -m bench.layers`: CPU microseconds per request in each layer of pgbe's stack, in-process.

The same GET is sent N times, one after the other, straight into ASGI callables (no sockets, no
HTTP parsing): the whole application (middleware, router, handler), the matched route's handler
alone, the bare database call the handler makes, and the hand-written floor. The differences are
what each layer costs in the worker's CPU, which is what limits throughput once PostgreSQL has spare
capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import dataset

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def _scope(
    path: str, query: str, *, method: str = "GET", headers: tuple[tuple[bytes, bytes], ...] = ()
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def _channel(
    body: bytes = b"",
) -> tuple[
    Callable[[], Awaitable[dict[str, Any]]],
    Callable[[dict[str, Any]], Awaitable[None]],
    list[int],
    list[bytes],
]:
    """receive/send like a server's: the body once, then a disconnect only after the response."""
    done = asyncio.Event()
    first = [True]
    status: list[int] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if first[0]:
            first[0] = False
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            done.set()

    return receive, send, status, chunks


async def _request(app: Asgi, scope: dict[str, Any], body: bytes = b"") -> tuple[int, bytes]:
    """Send one request straight into `app`; return the status and the body of its answer."""
    receive, send, status, chunks = _channel(body)
    await app(scope, receive, send)
    if status[0] >= 400:
        print(status[0], b"".join(chunks)[:300])
    return status[0], b"".join(chunks)


async def _call(app: Asgi, scope: dict[str, Any]) -> int:
    return (await _request(app, scope))[0]


async def _per_request(label: str, n: int, once: Callable[[], Awaitable[Any]], *, repeats: int = 3) -> float:
    """Return the lowest CPU time per request of `repeats` runs of `n` (other programs only add)."""
    for _ in range(50):
        await once()
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            await once()
        best_cpu = min(best_cpu, (time.process_time() - cpu) / n * 1e6)
        best_wall = min(best_wall, (time.perf_counter() - wall) / n * 1e6)
    print(f"  {label:<46} {best_cpu:8.1f} us CPU   {best_wall:8.1f} us wall (best of {repeats})")
    return best_cpu


async def measure(n: int, path: str, query: str) -> None:
    """Print the CPU cost per request of the app, the handler and the statement, and of the floor."""
    from starlette.routing import Match

    from app.config.database import database
    from app.main import app

    async with app.router.lifespan_context(app):
        scope = _scope(path, query)
        route = next(r for r in app.router.routes if r.matches(scope)[0] == Match.FULL)
        _, child = route.matches(scope)
        handler = route.app

        async def via_app() -> None:
            assert await _call(app, _scope(path, query)) == 200

        async def via_handler() -> None:
            assert await _call(handler, {**_scope(path, query), **child, "app": app}) == 200

        async def bare_statement() -> None:
            async with database.borrow(read=True) as conn:
                await conn.fetchrow("SELECT 1")

        print(f"GET {path}?{query}, {n} requests one after the other")
        whole = await _per_request("whole application (middleware + router)", n, via_app)
        stack = app.middleware_stack
        for middleware in list(app.user_middleware):
            app.user_middleware = [m for m in app.user_middleware if m is not middleware]
            app.middleware_stack = app.build_middleware_stack()
            await _per_request(f"  and without {middleware.cls.__name__}", n, via_app)
        app.user_middleware = []
        app.middleware_stack = app.build_middleware_stack()
        await _per_request("  without any user middleware", n, via_app)
        app.middleware_stack = app.router

        async def via_router() -> None:
            assert await _call(app.router, {**_scope(path, query), "app": app}) == 200

        await _per_request("router + handler (no middleware at all)", n, via_router)
        app.middleware_stack = stack
        alone = await _per_request("matched route's handler only", n, via_handler)
        bare = await _per_request("pool acquire + one trivial statement", n, bare_statement)
        print(
            f"  => middleware + routing {whole - alone:.0f} us, handler beyond driver {alone - bare:.0f} us"
        )
        from bench.floor import app as floor

        async with floor.router.lifespan_context(floor):

            async def via_floor() -> None:
                assert await _call(floor, _scope(path, query)) == 200

            hand_written = await _per_request("the hand-written floor, same request", n, via_floor)
            whole = await _per_request("whole application again, after the floor", n, via_app)
        print(f"  => pgbe costs {whole - hand_written:+.0f} us of CPU a request more than the floor")
        if os.environ.get("BENCH_CPROFILE"):
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(n):
                await via_app()
            profiler.disable()
            pstats.Stats(profiler).sort_stats(os.environ["BENCH_CPROFILE"]).print_stats(30)


def main(argv: list[str] | None = None) -> int:
    """Create the benchmark database, point the application at it and measure."""
    parser = argparse.ArgumentParser(prog="python -m bench.layers")
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--path", default="/products/4242")
    parser.add_argument("--query", default="include=category")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:  # the application reads its settings at import: a fresh process with DATABASE_URL set
        import uvloop

        uvloop.run(measure(args.n, args.path, args.query))
        return 0
    db = dataset.create()
    try:
        env = {**os.environ, "ENVIRONMENT": "production", "SECRET_KEY": secrets.token_urlsafe(36)}
        env["DATABASE_URL"] = db.url
        command = [sys.executable, "-m", "bench.layers", "--inner", "-n", str(args.n)]
        command += ["--path", args.path, "--query", args.query]
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        db.drop()


if __name__ == "__main__":
    sys.exit(main())
