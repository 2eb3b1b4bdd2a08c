"""`python -m bench.profile E1`: sample a pgbe worker under load with py-spy and say where time goes.

Needs py-spy (`.venv/bin/pip install py-spy`; not a project dependency). Writes the collapsed
stacks and a flame graph to bench/results/ and prints the functions that hold the most samples.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from bench import dataset
from bench.cases import select
from bench.load import run_wrk
from bench.run import RESULTS, log
from bench.servers import Stack, serve
from bench.targets import catalogue_env, get_token


def summarize(collapsed: Path, *, top: int = 25) -> str:
    """Return the functions with the most inclusive and self samples of py-spy's collapsed output."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
            for f in stack.split(";")
        ]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples", "", "inclusive (share of samples with the function on the stack):"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "self (share of samples with the function on top):"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Load one case on pgbe (1 worker) and record the worker with py-spy meanwhile."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("case", help="E1 .. E5")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    (case,) = select(args.case)
    db = dataset.create()
    try:
        env = catalogue_env(db.url, secrets.token_urlsafe(36), 16)
        with serve(Stack("profile pgbe 1w", "app.main:app", 1, env), log_dir=args.out) as running:
            token, reason = get_token(running.base_url)
            if case.authenticated and token is None:
                raise SystemExit(reason)
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            common = {"connections": args.connections, "threads": 2, "max_id": dataset.PRODUCTS}
            run_wrk(running.base_url, case, headers, seconds=2, **common)
            load = threading.Thread(
                target=run_wrk,
                args=(running.base_url, case, headers),
                kwargs={"seconds": args.seconds + 4, **common},
            )
            load.start()
            collapsed = args.out / f"profile-{case.key}.txt"
            log(f"recording {case.key} for {args.seconds:.0f}s")
            subprocess.run(
                [
                    spy,
                    "record",
                    "--pid",
                    str(running.process.pid),
                    "--duration",
                    str(int(args.seconds)),
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--output",
                    str(collapsed),
                    "--nonblocking",
                ],
                check=True,
                capture_output=True,
            )
            load.join()
    finally:
        db.drop()
    print(summarize(collapsed))
    print(f"\ncollapsed stacks: {collapsed} (flamegraph.pl or speedscope.app read it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
