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


def _access_lines(log_format: str, *, extra_handler: bool) -> tuple[str, str]:
    """The access line written directly and through the standard route, pgbe's handler on the root."""
    from pgbe.observability.logs import DirectLine

    stream, other = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers = [make_handler(log_format, stream)]  # type: ignore[arg-type]
    root.setLevel(logging.INFO)
    logger = logging.getLogger("pgbe.access.test")
    added = logging.StreamHandler(other)
    if extra_handler:
        logger.addHandler(added)
    fields = {"method": "GET", "status": 200, "client": None, "sql_ms": 0.25}
    try:
        DirectLine(logger).log(logging.INFO, "GET /things 200", fields, "req-9")
        logging.getLogger("pgbe.access.test").handle(_record(logger.name, fields))
    finally:
        root.handlers, logger.handlers = saved, []
        root.setLevel(level)
    first, second = stream.getvalue().splitlines()
    return first, second


def _record(name: str, fields: dict[str, object]) -> logging.LogRecord:
    from pgbe.observability.logs import FastRecord

    return FastRecord(name, logging.INFO, "GET /things 200", fields, "req-9")


def _timeless(line: str, log_format: str) -> object:
    if log_format == "json":
        return {k: v for k, v in orjson.loads(line).items() if k != "time"}
    return line.split(" ", 1)[1]


def test_access_line_written_directly_equals_the_standard_route() -> None:
    for log_format in ("json", "text"):
        for extra_handler in (False, True):
            direct, standard = _access_lines(log_format, extra_handler=extra_handler)

            assert _timeless(direct, log_format) == _timeless(standard, log_format)


def test_access_line_takes_the_standard_route_once_a_handler_is_added() -> None:
    from pgbe.observability.logs import DirectLine

    logger = logging.getLogger("pgbe.access.test")
    lines = DirectLine(logger)
    saved = logging.getLogger().handlers[:]
    logging.getLogger().handlers = [make_handler("json", io.StringIO())]
    try:
        assert lines.handler(logging.INFO) is not None
        logger.addHandler(logging.NullHandler())
        assert lines.handler(logging.INFO) is None
        logger.handlers = []
        logger.propagate = False
        assert lines.handler(logging.INFO) is None
        logger.propagate = True
        logging.getLogger().handlers[0].addFilter(logging.Filter("pgbe"))
        assert lines.handler(logging.INFO) is None
    finally:
        logging.getLogger().handlers = saved
        logger.handlers, logger.propagate = [], True
