"""Failed sign-in counters shared by every worker: PostgreSQL by default, Redis when configured."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pgbe.db.database import Database
from pgbe.errors import ServiceUnavailableError
from pgbe.extras import require

if TYPE_CHECKING:
    from redis.asyncio import Redis

SWEEP_CHANCE = 0.01  # of a PostgreSQL reservation also deleting other keys' rows whose window has ended


@dataclass(frozen=True)
class Limit:
    """At most `max_failures` failed sign-ins for `key` per window."""

    key: str
    max_failures: int


class LoginThrottle(Protocol):
    """Counts sign-in attempts per key in a fixed window; an attempt is reserved before it is checked."""

    window_seconds: int

    async def reserve(self, limits: Sequence[Limit]) -> int | None:
        """Count one attempt against every key at once; return seconds to wait when one is over its limit.

        The count and the comparison are one atomic step per key, so of any number of concurrent
        attempts at most `max_failures` per key get None (may be checked) in a window.
        """
        ...

    async def release(self, limits: Sequence[Limit]) -> None:
        """After a successful sign-in: forget the first key's attempts, give the others theirs back."""
        ...


def _worst(counts: dict[str, tuple[int, float]], limits: Sequence[Limit]) -> int | None:
    waits = [
        counts[limit.key][1]
        for limit in limits
        if limit.key in counts and counts[limit.key][0] > limit.max_failures
    ]
    return max(1, math.ceil(max(waits))) if waits else None


class PostgresThrottle:
    """Counters in table `login_throttles` (a row per key), bumped and read by one atomic UPSERT."""

    def __init__(self, database: Database, *, window_seconds: int) -> None:
        self.database = database
        self.window_seconds = window_seconds

    async def reserve(self, limits: Sequence[Limit]) -> int | None:
        """Count one attempt against every key, starting a new window where the old one ended."""
        sweep = random.random() < SWEEP_CHANCE  # noqa: S311 - chance of housekeeping, not security
        async with self.database.acquire() as conn:
            rows = await conn.fetch(
                # The sweep rides in the same statement (a no-op unless $3), on the other keys only:
                # a sign-in costs one round trip whether or not it sweeps.
                "WITH swept AS (DELETE FROM login_throttles WHERE $3"
                " AND window_started_at < now() - $2 * interval '1 second' AND key <> ALL($1::text[]))"
                " INSERT INTO login_throttles AS t (key, failures, window_started_at)"
                " SELECT k, 1, now() FROM unnest($1::text[]) AS k ORDER BY k"
                " ON CONFLICT (key) DO UPDATE SET"
                " failures = CASE WHEN t.window_started_at <= now() - $2 * interval '1 second'"
                " THEN 1 ELSE t.failures + 1 END,"
                " window_started_at = CASE WHEN t.window_started_at <= now() - $2 * interval '1 second'"
                " THEN now() ELSE t.window_started_at END,"
                " updated_at = now()"
                " RETURNING key, failures,"
                " extract(epoch FROM window_started_at + $2 * interval '1 second' - now())::float8 AS wait",
                sorted({limit.key for limit in limits}),
                self.window_seconds,
                sweep,
            )
        return _worst({r["key"]: (r["failures"], r["wait"]) for r in rows}, limits)

    async def release(self, limits: Sequence[Limit]) -> None:
        """Forget the first key's attempts; give every other key its one attempt back."""
        first, *others = limits
        async with self.database.acquire() as conn:
            await conn.execute("DELETE FROM login_throttles WHERE key = $1", first.key)
            if others:
                await conn.execute(
                    "UPDATE login_throttles SET failures = greatest(failures - 1, 0)"
                    " WHERE key = ANY($1::text[])",
                    [limit.key for limit in others],
                )


@contextmanager
def _redis_errors() -> Iterator[None]:
    """Refuse sign-ins (503) rather than let them through unthrottled while Redis is unreachable."""
    from redis.exceptions import RedisError

    try:
        yield
    except (RedisError, OSError) as exc:
        raise ServiceUnavailableError("The sign-in throttle store is unavailable", retry_after=5) from exc


# Decrement a counter only while it exists: DECR on a missing key would create one without expiry.
_GIVE_BACK = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0"


class RedisThrottle:
    """Counters as Redis keys that expire with their window (SET NX EX, INCR, PTTL in one MULTI)."""

    def __init__(self, client: Redis, *, window_seconds: int, prefix: str = "pgbe:login-failures:") -> None:
        self.client = client
        self.window_seconds = window_seconds
        self._prefix = prefix

    async def reserve(self, limits: Sequence[Limit]) -> int | None:
        """Count one attempt against every key; a key's first attempt starts its window."""
        keys = sorted({limit.key for limit in limits})
        with _redis_errors():
            async with self.client.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.set(self._prefix + key, 0, ex=self.window_seconds, nx=True)
                    pipe.incr(self._prefix + key)
                    pipe.pttl(self._prefix + key)
                replies = await pipe.execute()
        counts = {
            key: (int(count), max(ttl, 1) / 1000)
            for key, count, ttl in zip(keys, replies[1::3], replies[2::3], strict=True)
        }
        return _worst(counts, limits)

    async def release(self, limits: Sequence[Limit]) -> None:
        """Forget the first key's attempts; give every other key its one attempt back."""
        first, *others = limits
        with _redis_errors():
            await self.client.delete(self._prefix + first.key)
            for limit in others:
                await self.client.eval(_GIVE_BACK, 1, self._prefix + limit.key)


def make_throttle(database: Database, *, redis_url: str | None, window_seconds: int) -> LoginThrottle:
    """Return the Redis throttle when `redis_url` is set, else the PostgreSQL one."""
    if redis_url:
        redis = require("redis.asyncio", extra="redis", feature="REDIS_URL (the shared sign-in throttle)")
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        return RedisThrottle(client, window_seconds=window_seconds)
    return PostgresThrottle(database, window_seconds=window_seconds)
