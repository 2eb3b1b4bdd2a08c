"""Replica bookkeeping without a server: LSN tokens, the routing decision of one replica."""

from __future__ import annotations

import math
import time

import pytest
from sqlalchemy.engine import make_url

from pgbe.db.read_state import format_lsn, parse_lsn
from pgbe.db.replicas import Replica
from pgbe.http.replicas import request_min_lsn


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0/0", 0),
        ("0/3000060", 0x3000060),
        ("16/B374D848", (0x16 << 32) | 0xB374D848),
        (" 1/a ", (1 << 32) | 10),
    ],
)
def test_parse_lsn_valid_text_returns_position(text: str, value: int) -> None:
    assert parse_lsn(text) == value


@pytest.mark.parametrize("text", [None, "", "0", "0/", "/1", "x/1", "1/2/3", "123456789/0", "0/0; drop"])
def test_parse_lsn_malformed_returns_none(text: str | None) -> None:
    assert parse_lsn(text) is None


def test_format_lsn_round_trips_through_parse() -> None:
    for text in ("0/0", "0/3000060", "16/B374D848", "FFFFFFFF/FFFFFFFF"):
        value = parse_lsn(text)
        assert value is not None
        assert format_lsn(value) == text


def test_lsn_order_follows_wal_order_not_text_order() -> None:
    assert parse_lsn("0/A0000000") > parse_lsn("0/9FFFFFFF")  # type: ignore[operator]
    assert parse_lsn("1/0") > parse_lsn("0/FFFFFFFF")  # type: ignore[operator]


def _scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http", "headers": list(headers)}


def test_request_min_lsn_header_and_cookie_returns_highest() -> None:
    scope = _scope((b"x-min-lsn", b"0/100"), (b"cookie", b"a=b; pgbe_min_lsn=0/200; c=d"))
    assert request_min_lsn(scope) == 0x200


def test_request_min_lsn_malformed_or_absent_returns_none() -> None:
    assert request_min_lsn(_scope()) is None
    assert request_min_lsn(_scope((b"x-min-lsn", b"not-an-lsn"))) is None
    assert request_min_lsn(_scope((b"cookie", b"pgbe_min_lsn=zz/zz"))) is None


def _replica(max_lag: float = 10.0) -> Replica:
    return Replica(url=make_url("postgresql+psycopg://u@replica:5432/app"), max_lag=max_lag)


def test_replica_caught_up_within_bound_serves_token_it_replayed() -> None:
    replica = _replica()
    replica.record("0/500", 0.0)
    assert replica.serves(None)
    assert replica.serves(0x500)
    assert not replica.serves(0x501)
    assert not replica.needs_check(time.monotonic(), 0x400)
    assert replica.needs_check(time.monotonic(), 0x501)  # behind the token: look again before refusing


def test_replica_lag_beyond_bound_or_unknown_does_not_serve() -> None:
    replica = _replica(max_lag=5)
    replica.record("0/500", 5.5)
    assert not replica.serves(None)
    assert replica.describe_problem() == "lagging 5.5s > 5s"
    replica.record("0/500", None)
    assert not replica.serves(None)
    assert replica.describe_problem() == "lag unknown"


def test_replica_marked_down_is_left_alone_then_retried() -> None:
    replica = _replica()
    replica.record("0/500", 0.0)
    replica.mark_down(ConnectionRefusedError("refused"))
    now = time.monotonic()
    assert replica.is_down(now)
    assert replica.describe_problem() == "down (ConnectionRefusedError)"
    assert not replica.is_down(replica.down_until)
    assert replica.checked_at == -math.inf  # its status is read again before it serves
