"""Pool and replica gauges, sampled every few seconds by each worker (nothing is added per request)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import TYPE_CHECKING, Any

from pgbe.observability.metrics import POOL_CONNECTIONS, REPLICA_LAG, REPLICA_STATE, forget_dead_processes

if TYPE_CHECKING:
    from pgbe.db.database import Database

logger = logging.getLogger("pgbe.observability")
REPLICA_STATES = ("serving", "lagging", "down")


def _asyncpg_counts(pool: Any) -> tuple[int, int, int]:
    size, idle = pool.get_size(), pool.get_idle_size()
    queue = getattr(pool, "_queue", None)  # asyncpg has no public count of the callers waiting
    waiting = len(getattr(queue, "_getters", ()) or ())
    return size - idle, idle, waiting


def _sqlalchemy_counts(pool: Any) -> tuple[int, int, int]:
    in_use = pool.checkedout()
    idle = pool.checkedin()
    condition = getattr(getattr(pool, "_pool", None), "not_empty", None)  # QueuePool's waiters
    waiting = len(getattr(condition, "_waiters", ()) or ())
    return in_use, idle, waiting


def sample_pools(database: Database) -> None:
    """Set the connection gauges of every pool the database has opened."""
    for name, pool in database.open_pools().items():
        counts = _asyncpg_counts(pool) if hasattr(pool, "get_idle_size") else _sqlalchemy_counts(pool)
        for state, value in zip(("in_use", "idle", "waiting"), counts, strict=True):
            POOL_CONNECTIONS.labels(name, state).set(value)


def sample_replicas(database: Database) -> None:
    """Set the lag and state gauges of every replica from their last known status."""
    if not database.settings.database_replica_urls:
        return
    now = time.monotonic()
    for replica in database.replicas.replicas:
        lag = replica.lag_seconds
        REPLICA_LAG.labels(replica.name).set(math.nan if lag is None else lag)
        if replica.is_down(now):
            state = "down"
        elif replica.lag_seconds is not None and replica.is_lagging():
            state = "lagging"
        else:
            state = "serving"
        for candidate in REPLICA_STATES:
            REPLICA_STATE.labels(replica.name, candidate).set(1 if candidate == state else 0)


class PoolSampler:
    """A task of the worker's event loop sampling the gauges every `interval` seconds."""

    def __init__(self, database: Database, *, interval: float = 5.0) -> None:
        self.database = database
        self.interval = interval
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling (at application start-up)."""
        forget_dead_processes()
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop sampling (at shutdown)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    def sample(self) -> None:
        """Take one sample now."""
        sample_pools(self.database)
        sample_replicas(self.database)

    async def _run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:  # a broken sample must not stop the next ones
                logger.exception("pool metrics not sampled")
            await asyncio.sleep(self.interval)
