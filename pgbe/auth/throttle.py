"""Failed sign-in counters shared by every worker: PostgreSQL by default, Redis when configured."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from pgbe.db.database import Database
from pgbe.errors import ServiceUnavailableError


@dataclass(frozen=True)
class Limit:
    """At most `max_failures` failed sign-ins for `key` per window."""

    key: str
    max_failures: int


class LoginThrottle(Protocol):
    """Counts failed sign-ins per key in a fixed window."""

    window_seconds: int

    async def retry_after(self, limits: Sequence[Limit]) -> int | None:
        """Return seconds until a blocked key may try again, or None when none is blocked."""
        ...

    async def record_failure(self, keys: Sequence[str]) -> None:
        """Count one failed sign-in against each key."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the failures of `key` (after a successful sign-in)."""
        ...


def _worst(counts: dict[str, tuple[int, float]], limits: Sequence[Limit]) -> int | None:
    waits = [
        counts[limit.key][1]
        for limit in limits
        if limit.key in counts and counts[limit.key][0] >= limit.max_failures
    ]
    return max(1, math.ceil(max(waits))) if waits else None


class PostgresThrottle:
    """Counters in table `login_throttles` (a row per key), bumped by one atomic UPSERT per failure."""

    def __init__(self, database: Database, *, window_seconds: int) -> None:
        self.database = database
        self.window_seconds = window_seconds

    async def retry_after(self, limits: Sequence[Limit]) -> int | None:
        """Return seconds until a blocked key may try again, or None when none is blocked."""
        async with self.database.acquire() as conn:
            rows = await conn.fetch(
                "SELECT key, failures,"
                " extract(epoch FROM window_started_at + $2 * interval '1 second' - now())::float8 AS wait"
                " FROM login_throttles WHERE key = ANY($1::text[])"
                " AND window_started_at > now() - $2 * interval '1 second'",
                [limit.key for limit in limits],
                self.window_seconds,
            )
        return _worst({r["key"]: (r["failures"], r["wait"]) for r in rows}, limits)

    async def record_failure(self, keys: Sequence[str]) -> None:
        """Count one failed sign-in against each key, starting a new window where the old one ended."""
        async with self.database.acquire() as conn:
            await conn.execute(
                "INSERT INTO login_throttles AS t (key, failures, window_started_at)"
                " SELECT k, 1, now() FROM unnest($1::text[]) AS k ORDER BY k"
                " ON CONFLICT (key) DO UPDATE SET"
                " failures = CASE WHEN t.window_started_at <= now() - $2 * interval '1 second'"
                " THEN 1 ELSE t.failures + 1 END,"
                " window_started_at = CASE WHEN t.window_started_at <= now() - $2 * interval '1 second'"
                " THEN now() ELSE t.window_started_at END,"
                " updated_at = now()",
                sorted(set(keys)),
                self.window_seconds,
            )
            if random.random() < 0.01:  # noqa: S311 - chance of housekeeping, not security
                await conn.execute(
                    "DELETE FROM login_throttles WHERE window_started_at < now() - $1 * interval '1 second'",
                    self.window_seconds,
                )

    async def reset(self, key: str) -> None:
        """Forget the failures of `key`."""
        async with self.database.acquire() as conn:
            await conn.execute("DELETE FROM login_throttles WHERE key = $1", key)


@contextmanager
def _redis_errors() -> Iterator[None]:
    """Refuse sign-ins (503) rather than let them through unthrottled while Redis is unreachable."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise ServiceUnavailableError("The sign-in throttle store is unavailable", retry_after=5) from exc


class RedisThrottle:
    """Counters as Redis keys that expire with their window (INCR after SET NX EX, in one MULTI)."""

    def __init__(self, client: Redis, *, window_seconds: int, prefix: str = "pgbe:login-failures:") -> None:
        self.client = client
        self.window_seconds = window_seconds
        self._prefix = prefix

    async def retry_after(self, limits: Sequence[Limit]) -> int | None:
        """Return seconds until a blocked key may try again, or None when none is blocked."""
        with _redis_errors():
            async with self.client.pipeline(transaction=False) as pipe:
                for limit in limits:
                    pipe.get(self._prefix + limit.key)
                    pipe.pttl(self._prefix + limit.key)
                replies = await pipe.execute()
        counts = {}
        for limit, value, ttl in zip(limits, replies[::2], replies[1::2], strict=True):
            if value is not None and ttl > 0:
                counts[limit.key] = (int(value), ttl / 1000)
        return _worst(counts, limits)

    async def record_failure(self, keys: Sequence[str]) -> None:
        """Count one failed sign-in against each key; a key's first failure starts its window."""
        with _redis_errors():
            async with self.client.pipeline(transaction=True) as pipe:
                for key in sorted(set(keys)):
                    pipe.set(self._prefix + key, 0, ex=self.window_seconds, nx=True)
                    pipe.incr(self._prefix + key)
                await pipe.execute()

    async def reset(self, key: str) -> None:
        """Forget the failures of `key`."""
        with _redis_errors():
            await self.client.delete(self._prefix + key)


def make_throttle(database: Database, *, redis_url: str | None, window_seconds: int) -> LoginThrottle:
    """Return the Redis throttle when `redis_url` is set, else the PostgreSQL one."""
    if redis_url:
        client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        return RedisThrottle(client, window_seconds=window_seconds)
    return PostgresThrottle(database, window_seconds=window_seconds)
