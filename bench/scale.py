"""`python -m bench.scale`: list requests on 10,000 and on 1,000,000 products, pgbe beside its floor.

For each size: a database of its own (bench.scale_data), pgbe (app.main:app) and the hand-written
floor (bench.scale_floor) started with one worker each, every case checked to answer alike on both,
then each case's median latency for a request sent alone (no other request in flight) and its
throughput under wrk. The table puts the sizes side by side against the targets of issue 17: the
1M median within 2x of the 10k median and under 10 ms, and pgbe's throughput >= 0.7 of the floor's.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import scale_data
from bench.cases import Case
from bench.load import ensure_wrk, run_wrk
from bench.servers import Stack, serve

RESULTS = Path(__file__).resolve().parent / "results"
MEDIAN_TARGET_MS = 10.0
GROWTH_TARGET = 2.0
THROUGHPUT_TARGET = 0.7


@dataclass(frozen=True)
class ScaleCase:
    """A list request; `{deep}` in the path is a cursor after the row 100 before the end (id n - 100)."""

    key: str
    title: str
    path: str


CASES = (
    ScaleCase("S1", "first page, planned count", "/products?limit=20&count=planned"),
    ScaleCase("S2", "deep page by cursor", "/products?limit=20&cursor={deep}"),
    ScaleCase("S3", "sort on an indexed column", "/products?sort=-price&limit=20"),
    ScaleCase("S4", "contains filter (trigram index)", "/products?name__icontains=duct%20777&limit=20"),
)


def deep_cursor(n: int) -> str:
    """pgbe's own cursor after product n - 100 of the default sort (signed with this run's SECRET_KEY)."""
    from app.main import app  # the settings come from the environment main() prepared
    from app.resources import products
    from pgbe.resources.endpoints import cursor_after

    runtime = next(rt for rt in app.state.resources.runtimes if rt.resource is products)
    return cursor_after(runtime, "limit=20", [n - 100])


def request_of(case: ScaleCase, n: int) -> Case:
    """The request of `case` at size `n`, as the shared harness sends it."""
    path = case.path.replace("{deep}", deep_cursor(n)) if "{deep}" in case.path else case.path
    return Case(case.key, case.title, "GET", path)


def _masked(body: Any) -> Any:
    """The body with its cursors reduced to whether there is one (the floor writes its own)."""
    return {k: (v is not None if k in ("next", "prev") else v) for k, v in body.items()}


def compare(pgbe_url: str, floor_url: str, path: str) -> list[str]:
    """The differences between pgbe's and the floor's answers to `path` (empty when alike)."""
    a, b = httpx.get(pgbe_url + path, timeout=60), httpx.get(floor_url + path, timeout=60)
    if (a.status_code, b.status_code) != (200, 200):
        return [f"status: pgbe {a.status_code} {a.text[:300]} | floor {b.status_code} {b.text[:300]}"]
    if a.headers["content-type"] != b.headers["content-type"]:
        return [f"content-type: pgbe {a.headers['content-type']}, floor {b.headers['content-type']}"]
    if _masked(a.json()) != _masked(b.json()):
        ends = [f"{r.text[:300]}...{r.text[-300:]}" for r in (a, b)]
        return [f"bodies differ:\npgbe:  {ends[0]}\nfloor: {ends[1]}"]
    return []


@dataclass
class Measure:
    """One case on one server at one size."""

    case: str
    server: str
    products: int
    median_ms: float
    rps: float = 0.0
    errors: int = 0


@dataclass
class Results:
    """Everything a run measured."""

    settings: dict[str, object]
    loads: dict[int, float] = field(default_factory=dict)
    measures: list[Measure] = field(default_factory=list)

    def get(self, case: str, server: str, products: int) -> Measure | None:
        """The measure of `case` on `server` at `products`, if taken."""
        return next(
            (m for m in self.measures if (m.case, m.server, m.products) == (case, server, products)), None
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the options (defaults from BENCH_* environment variables)."""
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--sizes", default=env("BENCH_SCALE_SIZES", "10000,1000000"), help="products per run")
    parser.add_argument("--requests", type=int, default=15, help="requests sent alone per case (median)")
    parser.add_argument(
        "--duration", type=float, default=float(env("BENCH_DURATION", "10")), help="wrk s/case"
    )
    parser.add_argument("--warmup", type=float, default=float(env("BENCH_WARMUP", "2")), help="s before wrk")
    parser.add_argument("--connections", type=int, default=int(env("BENCH_CONNECTIONS", "16")))
    parser.add_argument("--threads", type=int, default=int(env("BENCH_THREADS", "2")), help="wrk threads")
    parser.add_argument("--cases", default=env("BENCH_SCALE_CASES"), help="e.g. S1,S3 (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def log(message: str) -> None:
    """Print a progress line."""
    print(f"[bench.scale {time.strftime('%H:%M:%S')}] {message}", flush=True)


def median_alone(base_url: str, path: str, requests: int) -> float:
    """The median milliseconds of `requests` requests sent one after another (after three warm-ups)."""
    timings = []
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for i in range(requests + 3):
            started = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
            if i >= 3:
                timings.append(elapsed)
    return statistics.median(timings)


def run_size(n: int, cases: list[ScaleCase], opts: argparse.Namespace, results: Results) -> None:
    """Load `n` products, check and measure every case on pgbe and the floor, drop the database."""
    log(f"loading {n:,} products")
    db, seconds = scale_data.create(n)
    results.loads[n] = seconds
    results.settings["database server"] = db.where
    log(f"  loaded in {seconds:.1f}s on {db.where}")
    env = {
        "ENVIRONMENT": "production",
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "DATABASE_URL": db.url,
        "DB_ASYNC_POOL_SIZE": "16",
        "BENCH_FLOOR_POOL_SIZE": "16",
        # every wrk connection may search at once (S4): measure the statement, not the slots' 503s
        "FILTER_MAX_CONCURRENCY": str(opts.connections),
    }
    pgbe = Stack("scale pgbe 1w", "app.main:app", 1, env)
    floor = Stack("scale floor 1w", "bench.scale_floor:app", 1, env, ready_path="/health")
    try:
        with serve(pgbe, log_dir=opts.out) as a, serve(floor, log_dir=opts.out) as b:
            servers = {"pgbe": a, "floor": b}
            for scale_case in cases:
                case = request_of(scale_case, n)
                problems = compare(a.base_url, b.base_url, case.path)
                if problems:
                    raise SystemExit(f"{case.key} at {n}: pgbe and the floor differ:\n" + "\n".join(problems))
                for name, running in servers.items():
                    measure = Measure(
                        case.key, name, n, median_alone(running.base_url, case.path, opts.requests)
                    )
                    if opts.duration > 0:
                        common = {"connections": opts.connections, "threads": opts.threads, "max_id": n}
                        if opts.warmup > 0:
                            run_wrk(running.base_url, case, {}, seconds=opts.warmup, **common)
                        load = run_wrk(running.base_url, case, {}, seconds=opts.duration, **common)
                        measure.rps, measure.errors = load.rps, load.errors
                    results.measures.append(measure)
                    log(
                        f"  {case.key} {name} at {n:,}: median alone {measure.median_ms:.2f} ms,"
                        f" {measure.rps:,.0f} req/s"
                    )
    finally:
        db.drop()


def _ok(passed: bool) -> str:
    return "ok" if passed else "MISS"


def table(results: Results, cases: list[ScaleCase], sizes: list[int]) -> str:
    """The medians side by side per size, the floor's, throughput vs the floor, and the verdicts."""
    small, large = sizes[0], sizes[-1]
    head = [f"pgbe {n:,}" for n in sizes] + [f"floor {n:,}" for n in sizes]
    lines = [
        "| case | "
        + " | ".join(f"{h} ms" for h in head)
        + f" | {large:,}/{small:,} | req/s vs floor at {large:,} | target |",
        "|---|" + "---:|" * (len(head) + 2) + "---|",
    ]
    for c in cases:
        pgbe = [results.get(c.key, "pgbe", n) for n in sizes]
        floor = [results.get(c.key, "floor", n) for n in sizes]
        cells = [f"{m.median_ms:.2f}" if m else "-" for m in pgbe + floor]
        verdicts = []
        growth = "-"
        if pgbe[0] and pgbe[-1] and len(sizes) > 1:
            ratio = pgbe[-1].median_ms / pgbe[0].median_ms
            growth = f"{ratio:.1f}x"
            verdicts.append(f"{_ok(ratio <= GROWTH_TARGET)} growth")
        if pgbe[-1]:
            verdicts.append(f"{_ok(pgbe[-1].median_ms < MEDIAN_TARGET_MS)} <{MEDIAN_TARGET_MS:g} ms")
        share = "-"
        if pgbe[-1] and floor[-1] and floor[-1].rps:
            value = pgbe[-1].rps / floor[-1].rps
            share = f"{value:.2f}"
            verdicts.append(f"{_ok(value >= THROUGHPUT_TARGET)} >={THROUGHPUT_TARGET}")
        lines.append(
            f"| {c.key} {c.title} | " + " | ".join(cells) + f" | {growth} | {share} | {', '.join(verdicts)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure every size; print the table; write it with the raw figures to bench/results/."""
    opts = parse_args(argv)
    sizes = sorted(int(s) for s in opts.sizes.split(",") if s)
    wanted = {k.strip().upper() for k in (opts.cases or "").split(",") if k.strip()}
    cases = [c for c in CASES if not wanted or c.key in wanted]
    if opts.duration > 0:
        ensure_wrk()
    # pgbe's cursors are signed: the servers and this process share one secret
    os.environ.update(ENVIRONMENT="production", SECRET_KEY=secrets.token_urlsafe(36))
    results = Results(
        settings={
            "sizes": sizes,
            "requests alone per case (median)": opts.requests,
            "wrk s/case, connections, threads": f"{opts.duration:g}, {opts.connections}, {opts.threads}",
            "workers": "1 each (pgbe, floor)",
            "cpus": os.cpu_count(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        }
    )
    for n in sizes:
        run_size(n, cases, opts, results)
    report = table(results, cases, sizes)
    loads = ", ".join(f"{n:,} products in {s:.1f}s" for n, s in results.loads.items())
    print(f"\nloaded: {loads}\n\n{report}")
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "scale.md").write_text(f"loaded: {loads}\n\n{report}\n")
    (opts.out / "scale.json").write_text(
        json.dumps(
            {
                "settings": results.settings,
                "loads": results.loads,
                "measures": [asdict(m) for m in results.measures],
            },
            indent=1,
        )
    )
    print(f"wrote {opts.out / 'scale.md'} and scale.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
