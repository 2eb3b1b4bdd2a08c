"""The read state of the request being served: the WAL position it must see, whether it used the primary.

A leaf: the replica set, the read session and the HTTP middleware all read it, and it imports none of
them.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

LSN_HEADER = "x-min-lsn"
LSN_COOKIE = "pgbe_min_lsn"
_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")


def parse_lsn(value: str | None) -> int | None:
    """Return a WAL position `X/Y` as an integer, or None when absent or malformed."""
    if not value:
        return None
    match = _LSN.match(value.strip())
    if match is None:
        return None
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(value: int) -> str:
    """Return the `X/Y` text form of a WAL position."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@dataclass
class RequestRouting:
    """What one request has done so far: the WAL position it must see, whether it used the primary."""

    min_lsn: int | None = None
    wrote: bool = False


_routing: ContextVar[RequestRouting | None] = ContextVar("pgbe_request_routing", default=None)


def current_routing() -> RequestRouting | None:
    """Return the routing state of the request being served, if any."""
    return _routing.get()


def begin_request(min_lsn: int | None) -> tuple[RequestRouting, Any]:
    """Start the routing state of a request; returns it and the token that `end_request` takes."""
    state = RequestRouting(min_lsn=min_lsn)
    return state, _routing.set(state)


def end_request(token: Any) -> None:
    """Forget the routing state of the finished request."""
    _routing.reset(token)


def mark_primary_used() -> None:
    """Make the rest of the request read from the primary (it may have written)."""
    state = _routing.get()
    if state is not None:
        state.wrote = True


__all__ = [
    "LSN_COOKIE",
    "LSN_HEADER",
    "RequestRouting",
    "begin_request",
    "current_routing",
    "end_request",
    "format_lsn",
    "mark_primary_used",
    "parse_lsn",
]
