"""Replicas over HTTP: read-your-writes tokens across requests, and the replicas' readiness.

After a successful write request (POST, PUT, PATCH, DELETE answered below 400) the response carries
the primary's WAL position in the `X-Min-LSN` header and a short-lived cookie. A later request that
sends either back is read from a replica only once that replica has replayed the position.
"""

from __future__ import annotations

import logging
import math
from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgbe.db.database import Database
from pgbe.db.read_state import LSN_COOKIE, LSN_HEADER, begin_request, end_request, parse_lsn
from pgbe.http import SAFE_METHODS
from pgbe.http.health import Degraded, ReadinessCheck

logger = logging.getLogger("pgbe.replicas")


def request_min_lsn(scope: Scope) -> int | None:
    """Return the highest WAL position the request carries (header or cookie), if any."""
    found: list[int] = []
    for name, value in scope.get("headers", ()):
        if name == LSN_HEADER.encode():
            lsn = parse_lsn(value.decode("latin-1"))
        elif name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception as exc:
                logger.debug("unreadable cookie header ignored: %s", exc)  # only the token is lost
                continue
            morsel = cookie.get(LSN_COOKIE)
            lsn = parse_lsn(morsel.value) if morsel is not None else None
        else:
            continue
        if lsn is not None:
            found.append(lsn)
    return max(found, default=None)


class ReadYourWritesMiddleware:
    """Route the request's reads by the token it carries; hand out a token after its writes.

    Does nothing when no replica is configured: every read is then served by the primary anyway.
    """

    def __init__(self, app: ASGIApp, *, database: Database) -> None:
        self.app = app
        self.database = database
        self.cookie_max_age = math.ceil(database.settings.db_replica_max_lag_seconds) + 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.database.replicas:
            await self.app(scope, receive, send)
            return
        _, token = begin_request(request_min_lsn(scope))
        is_write = scope["method"] not in SAFE_METHODS

        async def send_with_token(message: Message) -> None:
            if is_write and message["type"] == "http.response.start" and message["status"] < 400:
                await self._add_token(message)
            await send(message)

        try:
            await self.app(scope, receive, send_with_token)
        finally:
            end_request(token)

    async def _add_token(self, message: Message) -> None:
        # Read after the commit, so a replica that has replayed it shows the write; taken inside the
        # writing statement it would come before the commit record (see docs/scaling.md).
        try:
            lsn = await self.database.current_lsn()
        except Exception as exc:  # the write succeeded; only the token is lost
            logger.warning("no read-your-writes token: %s: %s", type(exc).__name__, exc)
            return
        headers = MutableHeaders(scope=message)
        headers.append(LSN_HEADER, lsn)
        headers.append(
            "set-cookie",
            f"{LSN_COOKIE}={lsn}; Max-Age={self.cookie_max_age}; Path=/; HttpOnly; SameSite=Lax",
        )


def replica_readiness(database: Database) -> ReadinessCheck:
    """Return a readiness check naming every replica that is down or lagging (reported, not fatal)."""

    async def check() -> str | None:
        problems = await database.replica_problems()
        return Degraded("; ".join(problems)) if problems else None

    return check
