"""What the observability layer knows about the request in progress: a leaf module of context vars.

The middleware opens a `RequestContext` per request; anything running for that request (handlers,
database wrappers, log filters, error reports) reads or updates it, across awaits and threadpool calls
(the object is shared, so counts made in a worker thread are seen by the middleware).
"""

from __future__ import annotations

from contextvars import ContextVar


class RequestContext:
    """The request id, the caller and the SQL work of one request."""

    __slots__ = ("request_id", "sql_count", "sql_seconds", "user_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.user_id: int | None = None
        self.sql_count = 0
        self.sql_seconds = 0.0


_current: ContextVar[RequestContext | None] = ContextVar("pgbe_request", default=None)


def current_request() -> RequestContext | None:
    """Return the context of the request in progress, if any."""
    return _current.get()


def current_request_id() -> str | None:
    """Return the id of the request in progress, if any."""
    context = _current.get()
    return context.request_id if context is not None else None


def note_user(user_id: int) -> None:
    """Record the caller of the request in progress (its access log line shows it)."""
    context = _current.get()
    if context is not None:
        context.user_id = user_id


def open_request(request_id: str) -> RequestContext:
    """Start the context of a new request (left set, so error handlers outside the middleware see it)."""
    context = RequestContext(request_id)
    _current.set(context)
    return context
