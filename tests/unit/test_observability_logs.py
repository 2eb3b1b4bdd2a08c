"""Log formatters: JSON lines carry the request id and fields; text lines are readable."""

from __future__ import annotations

import io
import logging

import orjson

from pgbe.observability.context import open_request
from pgbe.observability.logs import make_handler, resolve_format
from pgbe.observability.request_id import accept_request_id


def _emit(log_format: str, **extra: object) -> str:
    stream = io.StringIO()
    logger = logging.getLogger("pgbe.test.formatter")
    handler = make_handler(log_format, stream)  # type: ignore[arg-type]
    logger.addHandler(handler)
    try:
        logger.warning("things %s", "happened", extra=extra)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_json_line_inside_request_carries_request_id_and_fields() -> None:
    open_request("req-1")

    line = orjson.loads(_emit("json", fields={"status": 201, "route": "/things"}))

    assert line["request_id"] == "req-1"
    assert line["message"] == "things happened"
    assert line["level"] == "WARNING"
    assert line["logger"] == "pgbe.test.formatter"
    assert line["status"] == 201
    assert line["route"] == "/things"
    assert line["time"].endswith("Z")
    assert len(line["time"]) == 24


def test_json_line_fields_cannot_overwrite_reserved_keys() -> None:
    open_request("req-2")

    line = orjson.loads(_emit("json", fields={"request_id": "forged", "level": "DEBUG"}))

    assert line["request_id"] == "req-2"
    assert line["level"] == "WARNING"


def test_text_line_is_readable_with_fields_and_request_id() -> None:
    open_request("req-3")

    text = _emit("text", fields={"status": 200})

    assert "WARNING" in text
    assert "things happened status=200 request_id=req-3" in text
    assert not text.lstrip().startswith("{")


def test_auto_format_is_text_in_development_json_elsewhere() -> None:
    assert resolve_format("auto", development=True) == "text"
    assert resolve_format("auto", development=False) == "json"
    assert resolve_format("json", development=True) == "json"


def test_request_id_well_formed_kept_malformed_replaced() -> None:
    assert accept_request_id(b"abc-123_X.y:z") == "abc-123_X.y:z"
    assert accept_request_id(b"a b") != "a b"
    assert accept_request_id(b"\xff") != "\xff"
    assert len(accept_request_id(None)) == 32
