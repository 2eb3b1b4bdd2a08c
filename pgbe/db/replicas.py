"""Read replicas: the health and lag of each standby, and which one serves a read (in turn).

A replica serves a read only when it is reachable, its lag is within `db_replica_max_lag_seconds` and,
when the request carries a WAL position (`X-Min-LSN` header or cookie, set after a write), it has
replayed that position. Otherwise the primary serves it; no read fails because a replica is unusable.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from pgbe.db.connections import ConnectionFactory
from pgbe.db.read_state import parse_lsn

logger = logging.getLogger("pgbe.replicas")

CHECK_INTERVAL = 1.0  # seconds a replica's status is trusted before it is read again
DOWN_BACKOFF = 2.0  # seconds an unreachable replica is left alone before the next attempt

# One row: the WAL position replayed (a primary answers its own), and the lag in seconds. The lag is
# 0 when everything received is replayed, else the age of the last replayed transaction (an upper
# bound), NULL when unknown.
STATUS_SQL = """\
SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text,
       CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END::float8"""

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InvalidCatalogNameError,
)


@dataclass
class Replica:
    """One standby: its URL, pools and the last known status."""

    url: URL
    engine: Engine | None = None
    pool: asyncpg.Pool | None = None
    replay_lsn: int | None = None
    lag_seconds: float | None = None
    checked_at: float = -math.inf
    down_until: float = -math.inf
    error: str | None = None
    max_lag: float = 10.0

    @property
    def name(self) -> str:
        """Host and port, for logs and readiness."""
        return f"{self.url.host}:{self.url.port or 5432}"

    def is_down(self, now: float) -> bool:
        """Tell whether the replica failed recently and is being left alone."""
        return now < self.down_until

    def is_fresh(self, now: float) -> bool:
        """Tell whether the cached status is recent enough to route on."""
        return now - self.checked_at < CHECK_INTERVAL

    def is_lagging(self) -> bool:
        """Tell whether the last known lag is unknown or beyond the bound."""
        return self.lag_seconds is None or self.lag_seconds > self.max_lag

    def has_replayed(self, min_lsn: int | None) -> bool:
        """Tell whether the cached replay position covers `min_lsn`."""
        return min_lsn is None or (self.replay_lsn is not None and self.replay_lsn >= min_lsn)

    def needs_check(self, now: float, min_lsn: int | None) -> bool:
        """Tell whether the status must be read again before routing a read with `min_lsn` here."""
        return not self.is_fresh(now) or not self.has_replayed(min_lsn)

    def serves(self, min_lsn: int | None) -> bool:
        """Tell whether, by its current status, the replica may serve a read needing `min_lsn`."""
        return not self.is_lagging() and self.has_replayed(min_lsn)

    def record(self, replay_lsn: str | None, lag_seconds: float | None) -> None:
        """Store a status just read from the replica."""
        self.replay_lsn = parse_lsn(replay_lsn)
        self.lag_seconds = lag_seconds
        self.checked_at = time.monotonic()
        self.down_until = -math.inf
        self.error = None

    def mark_down(self, exc: BaseException) -> None:
        """Leave the replica alone for a while after a connection failure."""
        if not self.is_down(time.monotonic()):
            logger.warning("replica %s unusable: %s: %s", self.name, type(exc).__name__, exc)
        self.error = f"down ({type(exc).__name__})"
        self.down_until = time.monotonic() + DOWN_BACKOFF
        self.checked_at = -math.inf

    def describe_problem(self) -> str | None:
        """Return why the replica is not serving reads, or None when it is."""
        now = time.monotonic()
        if self.is_down(now):
            return self.error or "down"
        if self.checked_at == -math.inf:
            return None
        if self.lag_seconds is None:
            return "lag unknown"
        if self.is_lagging():
            return f"lagging {self.lag_seconds:.1f}s > {self.max_lag:g}s"
        return None


class ReplicaSet:
    """The replicas of a database, taken in turn; their pools and engines made by `connections`."""

    def __init__(self, urls: list[URL], connections: ConnectionFactory, *, max_lag: float) -> None:
        self.connections = connections
        self.replicas = [Replica(url=url, max_lag=max_lag) for url in urls]
        self._turn = itertools.count()

    def __bool__(self) -> bool:
        return bool(self.replicas)

    def __len__(self) -> int:
        return len(self.replicas)

    def candidates(self) -> Iterator[Replica]:
        """Yield the replicas worth trying now, starting with the next in turn."""
        if not self.replicas:
            return
        now = time.monotonic()
        start = next(self._turn) % len(self.replicas)
        for replica in self.replicas[start:] + self.replicas[:start]:
            if replica.is_down(now):
                continue
            if replica.is_fresh(now) and replica.is_lagging():
                continue
            yield replica

    # --- asyncpg (generated endpoints) -----------------------------------------------------------

    async def acquire(self, min_lsn: int | None) -> tuple[Replica, asyncpg.Connection] | None:
        """Borrow a connection of a replica able to serve a read needing `min_lsn`, else None."""
        for replica in self.candidates():
            try:
                pool = await self._pool(replica)
                if pool.get_idle_size() == 0 and pool.get_size() >= pool.get_max_size():
                    continue  # busy: the primary takes the overflow rather than queueing here
                conn = await pool.acquire(timeout=self.connections.connect_timeout)
            except CONNECTION_ERRORS as exc:
                replica.mark_down(exc)
                continue
            try:
                if replica.needs_check(time.monotonic(), min_lsn):
                    row = await conn.fetchrow(STATUS_SQL)
                    replica.record(row[0], row[1])
            except CONNECTION_ERRORS as exc:
                replica.mark_down(exc)
                await pool.release(conn)
                continue
            except BaseException:
                await pool.release(conn)
                raise
            if replica.serves(min_lsn):
                return replica, conn
            await pool.release(conn)
        return None

    async def release(self, replica: Replica, conn: asyncpg.Connection) -> None:
        """Give a connection back to its replica's pool."""
        assert replica.pool is not None
        await replica.pool.release(conn)

    async def _pool(self, replica: Replica) -> asyncpg.Pool:
        if replica.pool is None:
            # The factory's pools are lazy: creating one never connects, so a replica that is down
            # at start-up costs nothing until it is used.
            pool = await self.connections.pool(replica.url)
            if replica.pool is None:
                replica.pool = pool
            else:  # another request opened one meanwhile
                await pool.close()
        return replica.pool

    async def check(self, replica: Replica) -> str | None:
        """Read the replica's status now (readiness); return its problem or None."""
        try:
            pool = await self._pool(replica)
            async with pool.acquire(timeout=self.connections.connect_timeout) as conn:
                row = await conn.fetchrow(STATUS_SQL)
            replica.record(row[0], row[1])
        except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
            replica.mark_down(exc)
        return replica.describe_problem()

    # --- psycopg (get_read_db) -------------------------------------------------------------------

    def pick_sync(self, min_lsn: int | None) -> Replica | None:
        """Choose a replica for a sync session needing `min_lsn`, checking its status when stale."""
        for replica in self.candidates():
            if replica.needs_check(time.monotonic(), min_lsn):
                try:
                    with self.sync_engine(replica).connect() as conn:
                        lsn, lag = conn.execute(text(STATUS_SQL)).one()
                except DBAPIError as exc:
                    replica.mark_down(exc)
                    continue
                replica.record(lsn, lag)
            if replica.serves(min_lsn):
                return replica
        return None

    def sync_engine(self, replica: Replica) -> Engine:
        """The replica's sync engine, created on first use."""
        if replica.engine is None:
            replica.engine = self.connections.engine(replica.url)
        return replica.engine

    async def close(self) -> None:
        """Close every replica pool and engine."""
        for replica in self.replicas:
            if replica.pool is not None:
                await replica.pool.close()
                replica.pool = None
            if replica.engine is not None:
                replica.engine.dispose()
                replica.engine = None


__all__ = ["CHECK_INTERVAL", "CONNECTION_ERRORS", "DOWN_BACKOFF", "STATUS_SQL", "Replica", "ReplicaSet"]
