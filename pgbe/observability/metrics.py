"""Prometheus metrics: requests and latency per route, pools, replicas, throttling and load shedding.

With several worker processes, each writes its samples to files in `PROMETHEUS_MULTIPROC_DIR` and a
scrape adds them up (prometheus-client's multiprocess mode); the variable must be set before this
module is imported, which `pgbe run` does (`pgbe.observability.processes`). The endpoint is never public:
`GET /metrics` needs `Authorization: Bearer <METRICS_TOKEN>` (without a token the route does not
exist), and `pgbe run` can serve it on a port of its own (`METRICS_PORT`).
"""

from __future__ import annotations

import glob
import hmac
import os
import re
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

from pgbe.observability.processes import MULTIPROC_ENV

UNMATCHED = "unmatched"  # the route label of requests no route took (404s): never the raw path

# One histogram per route and status: its `_count` is the number of requests answered, its buckets
# the latency (a separate request counter would be a second write of every request).
LATENCY = Histogram(
    "pgbe_http_request_duration_seconds",
    "Requests answered, by the time from their arrival to the end of their response",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
POOL_CONNECTIONS = Gauge(
    "pgbe_db_pool_connections",
    "Connections of each database pool by state (in_use, idle, waiting: callers queued for one)",
    ["pool", "state"],
    multiprocess_mode="livesum",
)
REPLICA_LAG = Gauge(
    "pgbe_db_replica_lag_seconds",
    "Last known replay lag of each replica (NaN: unknown)",
    ["replica"],
    multiprocess_mode="livemax",
)
REPLICA_STATE = Gauge(
    "pgbe_db_replica_state",
    "1 for the state each replica is in: serving, lagging or down",
    ["replica", "state"],
    multiprocess_mode="livemax",
)
THROTTLED = Counter("pgbe_throttle_events_total", "Requests refused by a throttle", ["kind"])
SHED = Counter("pgbe_load_shed_total", "Requests refused to shed load", ["reason"])


def record_throttle(kind: str) -> None:
    """Count one request refused by a throttle of `kind` (e.g. `login_account`, `login_client`)."""
    THROTTLED.labels(kind).inc()


def record_shed(reason: str) -> None:
    """Count one request refused to shed load, for `reason` (e.g. `queue_full`, `pool_exhausted`)."""
    SHED.labels(reason).inc()


class HttpMetrics:
    """The request histogram, its children cached per (method, route, status)."""

    def __init__(self) -> None:
        self.children: dict[tuple[str, str | None, int], _Buckets] = {}

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        key = (method, route, status)
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = _buckets(LATENCY.labels(method, route or UNMATCHED, str(status)))
        total, buckets, bounds = child
        total.inc(seconds)
        buckets[bisect_left(bounds, seconds)].inc(1)  # the first bucket whose bound is >= seconds


# A child's sum, bucket counters and bucket bounds: what `Histogram.observe` updates (without an
# exemplar), taken once per child so that a request costs two increments and one C bisection
# instead of observe's checks and loop over the bounds (~2,000 instructions less a request).
_Buckets = tuple[Any, list[Any], list[float]]


def _buckets(child: Histogram) -> _Buckets:
    return child._sum, child._buckets, child._upper_bounds


def registry() -> CollectorRegistry:
    """Return what a scrape reads: every worker's files in multiprocess mode, else this process."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected, path=directory)  # type: ignore[no-untyped-call]
    return collected


def exposition() -> bytes:
    """Return the metrics in Prometheus' text format."""
    return generate_latest(registry())


def metrics_endpoint(token: str) -> Callable[[Request], Awaitable[Response]]:
    """Return the `/metrics` endpoint, answering only requests that bear `token` (404 otherwise)."""
    expected = f"Bearer {token}".encode()

    async def metrics(request: Request) -> Response:
        sent = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(sent, expected):
            # 404, not 401: the endpoint does not advertise itself to those without the token
            return Response(status_code=404)
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics


_PID = re.compile(r"_(\d+)\.db$")


def forget_dead_processes() -> None:
    """Drop the live gauges of worker processes that have exited (a worker restarted by the server)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    for file in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = _PID.search(file)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        except PermissionError:
            continue  # alive, another user's


def serve_metrics(port: int, host: str) -> None:
    """Serve the metrics on `host:port` from a thread of this process (the `pgbe run` supervisor)."""
    from prometheus_client import start_http_server

    forget_dead_processes()
    start_http_server(port, addr=host, registry=registry())
