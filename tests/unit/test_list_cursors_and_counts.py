"""Cursor signing and the parsing of count preferences, without a database."""

from __future__ import annotations

import pytest

from pgbe.errors import ValidationError
from pgbe.resources.counts import preferred_count
from pgbe.resources.cursors import Cursor, CursorSigner

SIGNER = CursorSigner("a-test-secret-that-is-long-enough-for-hmac")


def test_cursor_round_trips_values_nulls_and_direction() -> None:
    cursor = Cursor(("2026-12-02 01:00:00.5+00", None, "42"), backward=True)
    assert SIGNER.decode(SIGNER.encode(cursor, "ctx"), "ctx", size=3) == cursor


@pytest.mark.parametrize(
    ("raw", "context", "size"),
    [
        (SIGNER.encode(Cursor(("1",)), "ctx"), "other list", 1),
        (SIGNER.encode(Cursor(("1",)), "ctx"), "ctx", 2),
        (CursorSigner("another-secret-of-the-same-length-ok").encode(Cursor(("1",)), "ctx"), "ctx", 1),
        ("", "ctx", 1),
        ("%%%", "ctx", 1),
        ("A" * 5000, "ctx", 1),
        ("é", "ctx", 1),
    ],
)
def test_cursor_decode_refuses_foreign_or_malformed(raw: str, context: str, size: int) -> None:
    with pytest.raises(ValidationError, match="not a cursor of this list"):
        SIGNER.decode(raw, context, size=size)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("count=exact", "exact"),
        ("return=minimal, count=planned", "planned"),
        ('COUNT="estimated"', "estimated"),
        ("count=none; strict", "none"),
        ("count=lots", None),
        ("return=representation", None),
        (None, None),
    ],
)
def test_prefer_header_count(header: str | None, expected: str | None) -> None:
    assert preferred_count(header) == expected
