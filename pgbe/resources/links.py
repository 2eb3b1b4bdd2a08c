"""The `Link` header (RFC 8288) of a list's neighbouring pages: the request's query with their cursor."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import quote_plus, unquote_plus

from starlette.types import Scope


def page_links(
    scope: Scope, cursors: Mapping[str, str | None], *, cursor: str, drop: Collection[str]
) -> str | None:
    """Return `<path?query&cursor=...>; rel="next"` and the like, or None when there is no neighbour.

    The query is the request's own, as the client wrote it, without the parameters in `drop` (the
    offset and the old cursor); built from the raw query string, it costs a split rather than the
    parse and re-encoding of every parameter (a list answers this on every page).
    """
    present = [(rel, value) for rel, value in cursors.items() if value is not None]
    if not present:
        return None
    raw = scope.get("query_string", b"").decode("latin-1")
    kept = [part for part in raw.split("&") if part and unquote_plus(part.partition("=")[0]) not in drop]
    path = scope["path"].replace("?", "%3F").replace("#", "%23")
    prefix = f"{path}?{'&'.join(kept)}&" if kept else f"{path}?"
    name = quote_plus(cursor)
    return ", ".join(f'<{prefix}{name}={quote_plus(value)}>; rel="{rel}"' for rel, value in present)
