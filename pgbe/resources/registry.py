"""The resources of one application and what their handlers share: database, limits, principal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request

from pgbe.auth.principal import Principal
from pgbe.http.rate_limits import RateLimits
from pgbe.resources.costly import CostlyLists
from pgbe.resources.counts import CountStrategy
from pgbe.resources.cursors import CursorSigner

if TYPE_CHECKING:
    from pgbe.auth.service import Auth
    from pgbe.db.database import Database
    from pgbe.resources.routes import ResourceRoute
    from pgbe.resources.runtime import ResourceRuntime
    from pgbe.settings import PgbeSettings

PrincipalResolver = Callable[[Request], Principal | Awaitable[Principal | None] | None]
ReadPosition = Callable[[Request], str | None]


def anonymous(request: Request) -> None:
    """Resolve every request to no principal (until authentication is plugged in)."""
    del request


def no_read_position(request: Request) -> None:
    """Ask for no particular WAL position when reading."""
    del request


class ResourceRegistry:
    """Holds the database and the pluggable `resolve_principal` of every generated endpoint.

    `register()` adds the runtime of each resource and its routes here: `routes` is the route table
    the fast lane serves from.

    `resolve_principal(request)` returns the caller (or None); it may be sync or async. Authentication
    replaces it (e.g. with a JWT decoder); it should be cheap, as every request calls it once.
    `read_position(request)` returns the WAL position a read must see (read-your-writes), if any.
    `auth` signs the access tokens of resources that answer with one (`token=`, `sign_in=`).
    """

    def __init__(
        self,
        database: Database,
        settings: PgbeSettings,
        *,
        resolve_principal: PrincipalResolver = anonymous,
        read_position: ReadPosition = no_read_position,
        rate_limits: RateLimits | None = None,
        auth: Auth | None = None,
        costly: CostlyLists | None = None,
    ) -> None:
        self.database = database
        self.default_limit = settings.page_default_limit
        self.max_limit = settings.page_max_limit
        self.count: CountStrategy = settings.page_count
        self.count_threshold = settings.page_count_threshold
        self.max_skip = settings.page_max_skip
        self.cursors = CursorSigner(settings.secret_key.get_secret_value())
        # whether the database has pgbe_count_estimate; learned from the first statement that needs it
        self.estimator = True
        self.resolve_principal = resolve_principal
        self.read_position = read_position
        # ANONYMOUS_LIST_RATE_LIMIT: lists asked for without a token are counted per client.
        self.rate_limits = rate_limits or RateLimits.from_settings(settings)
        # FILTER_STATEMENT_TIMEOUT_MS, FILTER_MAX_CONCURRENCY: lists filtered by a substring search.
        self.costly = costly or CostlyLists.from_settings(settings)
        self.auth = auth
        self.runtimes: list[ResourceRuntime] = []
        self.routes: list[ResourceRoute] = []

    async def principal(self, request: Request) -> Principal | None:
        """Return the caller of `request`."""
        result = self.resolve_principal(request)
        if result is None or isinstance(result, Principal):  # a sync resolver: the usual case
            return result
        return await result
