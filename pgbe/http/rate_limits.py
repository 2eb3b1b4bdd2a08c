"""Requests per client and per window ("10/minute"), counted by the `limits` library.

One `RateLimits` per application holds the rules of the settings and one storage: Redis when
REDIS_URL is set (shared by every worker and instance), else this worker's memory (then a client may
make the limit's number of requests at each worker). Used by sign-in, sign-up and anonymous lists.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from starlette.requests import Request

from pgbe.errors import ServiceUnavailableError, TooManyRequestsError
from pgbe.extras import require
from pgbe.settings import PgbeSettings

RULE_SETTINGS = {
    "signin": "signin_rate_limit",
    "signup": "signup_rate_limit",
    "anonymous_list": "anonymous_list_rate_limit",
}


def client_address(request: Request) -> str:
    """The address requests are counted under: the peer, or what a trusted proxy said it is.

    `pgbe run` believes X-Forwarded-For only from FORWARDED_ALLOW_IPS, so a client cannot pick it.
    """
    return request.client.host if request.client else "unknown"


@contextmanager
def _storage_errors() -> Iterator[None]:
    """Refuse (503) rather than let requests through uncounted while the store is unreachable."""
    try:
        yield
    except (StorageError, OSError) as exc:  # Redis errors arrive as StorageError (wrap_exceptions)
        raise ServiceUnavailableError("The rate-limit store is unavailable", retry_after=5) from exc


class RateLimits:
    """The per-client limits of one application, by name (signin, signup, anonymous_list)."""

    def __init__(self, rules: dict[str, RateLimitItem | None], storage: Storage) -> None:
        self.rules = rules
        self.storage = storage
        self.limiter = SlidingWindowCounterRateLimiter(storage)

    @classmethod
    def from_settings(cls, settings: PgbeSettings) -> RateLimits:
        """Return the limits of the settings, in Redis when REDIS_URL is set, else in memory."""
        rules = {
            name: parse(value) if (value := getattr(settings, field)) else None
            for name, field in RULE_SETTINGS.items()
        }
        storage: Storage = MemoryStorage()
        if settings.redis_url:
            require("redis", extra="redis", feature="REDIS_URL (rate limits shared by every worker)")
            uri = "async+" + settings.redis_url if "://" in settings.redis_url else settings.redis_url
            storage = RedisStorage(
                uri,
                implementation="redispy",
                key_prefix="pgbe-rate",
                wrap_exceptions=True,
                socket_connect_timeout=2,
                socket_timeout=2,
            )
        return cls(rules, storage)

    async def hit(self, name: str, client: str) -> None:
        """Count one request of `client` under rule `name`; 429 with Retry-After when it is over."""
        rule = self.rules.get(name)
        if rule is None:
            return
        with _storage_errors():
            if await self.limiter.hit(rule, name, client[:64]):
                return
            stats = await self.limiter.get_window_stats(rule, name, client[:64])
        from pgbe.observability.metrics import record_throttle

        record_throttle(name)  # pgbe_throttle_events_total{kind=<rule>}
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequestsError(
            f"Too many requests from this client; try again in {wait} s", headers={"Retry-After": str(wait)}
        )

    def forget(self) -> None:
        """Forget the counts of this worker's memory store (a Redis store is shared: left as it is).

        The test plugin calls it before each test, so that every test starts with fresh counters.
        """
        if isinstance(self.storage, MemoryStorage):
            self.storage = MemoryStorage()
            self.limiter = SlidingWindowCounterRateLimiter(self.storage)


__all__ = ["RULE_SETTINGS", "RateLimits", "client_address"]
