"""`python -m bench`: measure pgbe's generated endpoints against the hand-written floor."""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from bench import dataset
from bench.cases import Case, select
from bench.compare import compare_responses
from bench.load import LoadResult, ensure_wrk, run_wrk
from bench.report import RSS_LIMIT_MB, Report, Row
from bench.servers import RssSampler, Running, Stack, serve
from bench.sqlcount import StatementCounter
from bench.targets import CATALOGUE, TARGETS, Target, catalogue_env

RESULTS = Path(__file__).resolve().parent / "results"
FLOOR = "floor 2w"
LOG_COST_CASES = frozenset({"E1"})  # run again on pgbe with ACCESS_LOG=false, to show the log's cost


@dataclass
class Options:
    """Command-line options."""

    duration: float
    warmup: float
    connections: int
    threads: int
    cases: tuple[Case, ...]
    workers: tuple[int, ...]
    floor: bool
    pool_size: int
    soak: float
    rounds: int
    count_requests: int
    out: Path


def parse_args(argv: list[str] | None = None) -> Options:
    """Read the options from the command line (defaults from BENCH_* environment variables)."""
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--duration", type=float, default=float(env("BENCH_DURATION", "10")), help="seconds per case"
    )
    parser.add_argument(
        "--warmup", type=float, default=float(env("BENCH_WARMUP", "2")), help="seconds before each"
    )
    parser.add_argument("--connections", type=int, default=int(env("BENCH_CONNECTIONS", "32")))
    parser.add_argument("--threads", type=int, default=int(env("BENCH_THREADS", "2")), help="wrk threads")
    parser.add_argument("--cases", default=env("BENCH_CASES"), help="e.g. E1,E2 (default: all)")
    parser.add_argument("--workers", default=env("BENCH_WORKERS", "1,2"), help="pgbe worker counts")
    parser.add_argument("--no-floor", action="store_true", help="skip the hand-written floor")
    parser.add_argument("--pool-size", type=int, default=int(env("BENCH_POOL_SIZE", "16")), help="per worker")
    parser.add_argument(
        "--soak", type=float, default=float(env("BENCH_SOAK", "120")), help="RSS run, s (0: none)"
    )
    parser.add_argument(
        "--rounds", type=int, default=int(env("BENCH_ROUNDS", "3")), help="interleaved rounds"
    )
    parser.add_argument("--count-requests", type=int, default=20, help="requests per case for SQL counts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    a = parser.parse_args(argv)
    return Options(
        duration=a.duration,
        warmup=a.warmup,
        connections=a.connections,
        threads=a.threads,
        cases=select(a.cases),
        workers=tuple(int(w) for w in a.workers.split(",") if w),
        floor=not a.no_floor,
        pool_size=a.pool_size,
        soak=a.soak,
        rounds=max(1, a.rounds),
        count_requests=a.count_requests,
        out=a.out,
    )


def log(message: str) -> None:
    """Print a progress line."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def stacks(opts: Options, target: Target, db_url: str, secret: str) -> list[Stack]:
    """The servers to measure, in order: pgbe with each worker count, then the floor."""
    env = target.env(db_url, secret, opts.pool_size)
    result = [Stack(f"pgbe {w}w", target.app, w, env) for w in opts.workers]
    if target is CATALOGUE and opts.workers:  # what the access log costs: E1 without it, beside it
        w = max(opts.workers)
        quiet = {**env, "ACCESS_LOG": "false"}
        result.append(Stack(f"pgbe {w}w no access log", target.app, w, quiet, cases=LOG_COST_CASES))
    if opts.floor:
        result.append(Stack(FLOOR, target.floor, 2, env, ready_path="/health"))
    return result


def _runnable(cases: tuple[Case, ...], token: str | None, reason: str, report: Report) -> list[Case]:
    runnable = []
    for case in cases:
        if case.authenticated and token is None:
            report.skipped[case.key] = reason
        else:
            runnable.append(case)
    return runnable


def verify(
    opts: Options, target: Target, db: dataset.BenchDatabase, secret: str, report: Report
) -> str | None:
    """Check, before measuring, that pgbe and the floor answer every case alike; return the token."""
    log(f"verifying that pgbe and the floor give the same responses ({target.name})")
    env = target.env(db.url, secret, 4)
    pgbe = Stack("verify pgbe", target.app, 1, env)
    floor = Stack("verify floor", target.floor, 1, env, ready_path="/health")
    with serve(pgbe, log_dir=opts.out) as a, serve(floor, log_dir=opts.out) as b:
        token, reason = target.token(a.base_url, db.url, secret)
        for case in _runnable(_of(opts, target), token, reason, report):
            problems = compare_responses(
                a.base_url, b.base_url, case, token, between=lambda: target.reset_writes(db.url)
            )
            if problems:
                raise SystemExit(f"{case.key}: pgbe and the floor differ:\n" + "\n".join(problems))
            log(f"  {case.key}: same status and body")
    target.reset_writes(db.url)
    return token


def _of(opts: Options, target: Target) -> tuple[Case, ...]:
    """The chosen cases of `target`."""
    return tuple(c for c in opts.cases if c.target == target.name)


def count_statements(
    opts: Options, target: Target, db: dataset.BenchDatabase, secret: str, report: Report
) -> dict[str, str]:
    """Send requests one at a time through the counting proxy; return statements per request per case."""
    url = make_url(db.url)
    counter = StatementCounter(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = url.set(host="127.0.0.1", port=counter.port).render_as_string(hide_password=False)
    counts: dict[str, str] = {}
    token: str | None = None
    reason = ""
    try:
        for name, app in (("pgbe", target.app), ("floor", target.floor)):
            if name == "floor" and not opts.floor:
                continue
            stack = Stack(
                f"count {name}",
                app,
                1,
                target.env(proxied, secret, 4),
                "/health" if name == "floor" else "/health/live",
            )
            with serve(stack, log_dir=opts.out) as running, httpx.Client(base_url=running.base_url) as client:
                if name == "pgbe":  # the floor has no sign-in; it accepts pgbe's tokens (same secret)
                    token, reason = target.token(running.base_url, db.url, secret)
                for case in _runnable(_of(opts, target), token, reason, report):
                    counts[f"{case.key} {name}"] = _count_case(
                        client, case, token, counter, opts, report, name
                    )
            target.reset_writes(db.url)
    finally:
        counter.stop()
    return counts


def _count_case(
    client: httpx.Client,
    case: Case,
    token: str | None,
    counter: StatementCounter,
    opts: Options,
    report: Report,
    name: str,
) -> str:
    headers = {**case.headers, **({"Authorization": f"Bearer {token}"} if case.authenticated else {})}
    body = case.check_body()
    for _ in range(3):  # warm: connection opened, statements prepared, types introspected
        client.request(case.method, case.check_path(), content=body, headers=headers)
    counter.reset()
    n = opts.count_requests
    for _ in range(n):
        client.request(case.method, case.check_path(), content=body, headers=headers)
    kinds, texts = counter.snapshot()
    if name == "pgbe":
        per_request = len(texts) // n
        report.sql_texts[case.key] = texts[:per_request]
    parts = [f"{kinds['statement'] / n:g}"]
    extra = [f"+{kinds[k] / n:g} {k}" for k in ("transaction", "pool-reset") if kinds[k]]
    return " ".join(parts + extra)


def _one_run(
    opts: Options, running: Running, case: Case, headers: dict[str, str], max_id: int
) -> tuple[LoadResult, float, float]:
    common = {"connections": opts.connections, "threads": opts.threads, "max_id": max_id}
    if opts.warmup > 0:
        run_wrk(running.base_url, case, headers, seconds=opts.warmup, **common)
    with RssSampler(running) as sampler:
        result = run_wrk(running.base_url, case, headers, seconds=opts.duration, **common)
    return result, sampler.peak_mb(), sampler.cpu_seconds


def measure(
    opts: Options,
    target: Target,
    servers: list[Running],
    db: dataset.BenchDatabase,
    token: str | None,
    report: Report,
    counts: dict[str, str],
) -> None:
    """Run each case on every server, interleaved over `opts.rounds` rounds (the order rotates).

    All servers are up at once but only one is loaded at a time; interleaving spreads the noise of a
    shared machine over every server instead of charging it to whichever ran during a busy minute.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    ordered = sorted(_runnable(_of(opts, target), token, "no access token", report), key=lambda c: c.writes)
    for case in ordered:
        on_case = [r for r in servers if r.stack.cases is None or case.key in r.stack.cases]
        runs: dict[str, list[tuple[LoadResult, float, float]]] = {r.stack.name: [] for r in on_case}
        for round_ in range(opts.rounds):
            shift = round_ % len(on_case)
            for running in on_case[shift:] + on_case[:shift]:
                result, peak, cpu = _one_run(opts, running, case, headers, target.max_id)
                runs[running.stack.name].append((result, peak, cpu))
                log(
                    f"  {case.key} {running.stack.name} round {round_ + 1}: {result.rps:,.0f} req/s "
                    f"p50 {result.p50_ms:.2f} ms p99 {result.p99_ms:.2f} ms errors {result.errors} "
                    f"rss {peak:.0f} MB cpu {cpu / max(1, result.requests) * 1e6:.0f} us/req"
                )
                if case.writes:
                    target.reset_writes(db.url)
        for running in on_case:
            stack = running.stack.name
            results = [r for r, _, _ in runs[stack]]
            requests = sum(r.requests for r in results)
            who = "floor" if stack.startswith("floor") else "pgbe"
            report.rows.append(
                Row(
                    case=case.key,
                    stack=stack,
                    rps=sum(r.requests for r in results) / sum(r.seconds for r in results),
                    p50_ms=statistics.median(r.p50_ms for r in results),
                    p99_ms=max(r.p99_ms for r in results),
                    errors=sum(r.errors for r in results),
                    sql_per_request=counts.get(f"{case.key} {who}", "?"),
                    peak_rss_mb=max(p for _, p, _ in runs[stack]),
                    cpu_us=sum(c for _, _, c in runs[stack]) / max(1, requests) * 1e6,
                )
            )


def soak(opts: Options, db: dataset.BenchDatabase, secret: str, report: Report) -> None:
    """Run E2 on pgbe with 2 workers for `opts.soak` seconds and compare early and late memory."""
    case = next((c for c in opts.cases if c.key == "E2"), _of(opts, CATALOGUE)[0])
    log(f"soak: {case.key} on pgbe 2w for {opts.soak:.0f}s")
    stack = Stack("soak pgbe 2w", CATALOGUE.app, 2, catalogue_env(db.url, secret, opts.pool_size))
    with serve(stack, log_dir=opts.out) as running, RssSampler(running, interval=1.0) as sampler:
        common = {"connections": opts.connections, "threads": opts.threads, "max_id": dataset.PRODUCTS}
        result = run_wrk(running.base_url, case, {}, seconds=opts.soak, **common)
    samples = sampler.samples
    tenth = max(1, len(samples) // 10)
    early = [max(r) for _, r in samples[tenth : 2 * tenth]]  # after the first tenth: warmed up
    late = [max(r) for _, r in samples[-tenth:]]
    early_mb, late_mb = sum(early) / len(early) / 1e6, sum(late) / len(late) / 1e6
    report.soak = {
        "case": case.key,
        "seconds": opts.soak,
        "requests/s": f"{result.rps:,.0f}",
        "errors": result.errors,
        "RSS/worker early (MB)": f"{early_mb:.1f}",
        "RSS/worker late (MB)": f"{late_mb:.1f}",
        "growth": f"{(late_mb / early_mb - 1) * 100:+.1f}% (flat means within 5%)",
        "peak (MB)": f"{sampler.peak_mb():.1f}",
    }
    log(f"soak: {report.soak}")


def main(argv: list[str] | None = None) -> int:
    """For each application: create its database, verify, count, measure; always drop the database."""
    opts = parse_args(argv)
    ensure_wrk()
    secret = secrets.token_urlsafe(36)
    targets = [t for t in TARGETS.values() if _of(opts, t)]
    report = Report(
        settings={
            "database server": dataset.choose_server()[2],
            "duration per case and round (s)": opts.duration,
            "rounds (interleaved, order rotated)": opts.rounds,
            "warm-up per case (s)": opts.warmup,
            "wrk connections / threads": f"{opts.connections} / {opts.threads}",
            "asyncpg pool per worker": opts.pool_size,
            "data": "; ".join(t.data for t in targets),
            "cpus": os.cpu_count(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        }
    )
    for target in targets:
        log(f"creating and loading the benchmark database of {target.name}")
        db = target.create()
        log(f"database on {db.where}")
        try:
            _run_target(opts, target, db, secret, report)
            if target is CATALOGUE and opts.soak > 0:
                soak(opts, db, secret, report)
        finally:
            db.drop()
    if opts.floor:
        report.add_ratios(FLOOR)
    print()
    print(report.table())
    over = [r for r in report.rows if r.peak_rss_mb > RSS_LIMIT_MB]
    if over:
        print(f"\nRSS over {RSS_LIMIT_MB:.0f} MB: " + ", ".join(f"{r.case} {r.stack}" for r in over))
    for path in report.write(opts.out):
        print(f"wrote {path}")
    return 0


def _run_target(
    opts: Options, target: Target, db: dataset.BenchDatabase, secret: str, report: Report
) -> None:
    """Verify, count and measure the chosen cases of one application on its database."""
    token = verify(opts, target, db, secret, report) if opts.floor else None
    counts = count_statements(opts, target, db, secret, report)
    with ExitStack() as running:
        servers = [
            running.enter_context(serve(s, log_dir=opts.out)) for s in stacks(opts, target, db.url, secret)
        ]
        log("measuring " + ", ".join(r.stack.name for r in servers))
        if token is None:
            token, _ = target.token(servers[0].base_url, db.url, secret)
        measure(opts, target, servers, db, token, report, counts)


if __name__ == "__main__":
    sys.exit(main())
