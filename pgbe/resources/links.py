"""The `Link` header (RFC 8288) of a list's neighbouring pages: the request's query with their cursor."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import quote_plus, unquote_plus

from starlette.types import Scope


def kept_query(query_string: bytes, drop: Collection[str]) -> str:
    """The request's query as the client wrote it, without the parameters in `drop`.

    Built from the raw query string, it costs a split rather than the parse and re-encoding of every
    parameter; list plans keep it per query string (`pgbe.resources.list_plans`).
    """
    parts = query_string.decode("latin-1").split("&")
    return "&".join(part for part in parts if part and unquote_plus(part.partition("=")[0]) not in drop)


def link_header(path: str, kept: str, cursors: Mapping[str, str | None], *, cursor: str) -> str | None:
    """Return `<path?kept&cursor=...>; rel="next"` and the like, or None when there is no neighbour."""
    present = [(rel, value) for rel, value in cursors.items() if value is not None]
    if not present:
        return None
    path = path.replace("?", "%3F").replace("#", "%23")
    prefix = f"{path}?{kept}&" if kept else f"{path}?"
    name = quote_plus(cursor)
    return ", ".join(f'<{prefix}{name}={quote_plus(value)}>; rel="{rel}"' for rel, value in present)


def page_links(
    scope: Scope, cursors: Mapping[str, str | None], *, cursor: str, drop: Collection[str]
) -> str | None:
    """The `Link` header of the request in `scope`: its query without `drop`, with each cursor."""
    kept = kept_query(scope.get("query_string", b""), drop)
    return link_header(scope["path"], kept, cursors, cursor=cursor)
