"""Soak: a steady mixed load for 10 minutes (PGBE_SOAK_SECONDS) with memory and connections flat.

Not in the default run: `pytest -m slow tests/integration/test_faults_soak.py -s`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from pgbe.testing.servers import AppServer
from tests.fault_fixtures import CLIENT_LIMITS, FaultCluster, application_name

pytestmark = [pytest.mark.slow, pytest.mark.faults]
SECONDS = float(os.environ.get("PGBE_SOAK_SECONDS", "600"))
POOLS = {"DB_POOL_SIZE": "3", "DB_MAX_OVERFLOW": "0", "DB_ASYNC_POOL_SIZE": "3"}


@pytest.fixture(autouse=True)
def _only_when_selected(request: pytest.FixtureRequest) -> None:
    """Run only under `-m slow` (or an expression naming it), never in the default run."""
    expression = str(request.config.getoption("markexpr") or "")
    if "slow" not in expression or "not slow" in expression:
        pytest.skip("the soak test runs with -m slow")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def connections(cluster: FaultCluster, server: AppServer) -> int:
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name(server),)
        ).fetchone()
    return int(row[0]) if row else 0


async def test_soak_memory_and_connections_stay_flat(fault_cluster: FaultCluster) -> None:
    server = fault_cluster.app(**POOLS)
    assert server.process is not None
    statuses: Counter[int] = Counter()
    samples: list[tuple[float, int, int]] = []  # elapsed, RSS KiB, connections
    tag = uuid.uuid4().hex[:8]
    headers = fault_cluster.bearer("staff")
    stop = time.monotonic() + SECONDS

    async def client(http: httpx.AsyncClient, number: int) -> None:
        i = 0
        while time.monotonic() < stop:
            i += 1
            created = await http.post("/products", json={"name": f"soak-{tag}-{number}-{i}", "price": i})
            statuses[created.status_code] += 1
            if created.status_code == 201:
                row = created.json()
                for path in (f"/products/{row['id']}", "/products?limit=20&sort=-id", "/items/"):
                    statuses[(await http.get(path)).status_code] += 1
                etag = created.headers["etag"]
                patched = await http.patch(
                    f"/products/{row['id']}", json={"price": 0}, headers={"If-Match": etag}
                )
                statuses[patched.status_code] += 1
                if i % 5 == 0:
                    statuses[(await http.delete(f"/products/{row['id']}")).status_code] += 1

    async def sampler() -> None:
        start = time.monotonic()
        while time.monotonic() < stop:
            assert server.process is not None
            samples.append(
                (time.monotonic() - start, rss_kib(server.process.pid), connections(fault_cluster, server))
            )
            await asyncio.sleep(max(1.0, SECONDS / 60))

    try:
        async with httpx.AsyncClient(
            base_url=server.url, limits=CLIENT_LIMITS, timeout=30, headers=headers
        ) as http:
            await asyncio.gather(sampler(), *(client(http, n) for n in range(4)))
    finally:
        server.stop()

    warm = samples[len(samples) // 5]  # after the first fifth: caches and pools filled
    last = samples[-1]
    sys.stderr.write(
        f"\nsoak {SECONDS:.0f}s: {sum(statuses.values())} requests {dict(statuses)}; "
        f"RSS KiB warm {warm[1]} end {last[1]} max {max(s[1] for s in samples)}; "
        f"connections max {max(s[2] for s in samples)} end {last[2]}\n"
    )
    assert set(statuses) <= {200, 201, 204}, statuses
    assert last[1] <= warm[1] * 1.10 + 10_240  # memory flat: at most 10 % + 10 MiB over the warm value
    assert max(s[2] for s in samples) <= 6  # never more than the two pools of three
    assert server.unexpected_errors() == []
