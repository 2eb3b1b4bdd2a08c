"""Conditional GETs: the entity tag of an answer, and `If-None-Match` (RFC 9110 13.1.2) against it.

A list's tag is a hash of the JSON PostgreSQL built for it, computed here, so no second statement
asks whether anything changed. A row's tag is its version (`"7"`, the one `If-Match` takes) when its
JSON is the row's alone; with related rows or computed fields in it, the version and a hash of the
JSON (`"7.3f9a..."`), whose version part `If-Match` still takes.
"""

from __future__ import annotations

from starlette.requests import Request
from xxhash import xxh3_128_hexdigest

from pgbe.http.headers import header


def body_hash(body: str | bytes) -> str:
    """A short hash of a JSON answer: 96 bits of XXH3-128.

    An entity tag must change when the answer changes; it guards nothing, so it needs no
    cryptographic hash. XXH3 hashes a 40 KB page in about 0.4 us, SHA-256 (with the x86 SHA
    instructions) in 21 us: paid on every list and every item with related rows.
    """
    return xxh3_128_hexdigest(body if isinstance(body, bytes) else body.encode())[:24]


def body_etag(body: str | bytes) -> str:
    """The strong entity tag of a JSON answer: a hash of its bytes."""
    return f'"{body_hash(body)}"'


def not_modified(request: Request, etag: str) -> bool:
    """Tell whether `If-None-Match` names `etag` (weak comparison; `*` names any): answer 304."""
    given = header(request, b"if-none-match")
    if given is None:
        return False
    tag = etag.removeprefix("W/")
    for candidate in given.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == tag:
            return True
    return False


__all__ = ["body_etag", "body_hash", "not_modified"]
