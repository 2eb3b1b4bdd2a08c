"""A bound on the size of a request's head (request line and headers), answered 431, for either parser.

uvicorn bounds headers only under h11 (`h11_max_incomplete_event_size`); httptools has no limit, so
8 MB of headers reach the application and a 32 MB one holds a worker for seconds while it is parsed.
A middleware cannot help: it runs after the whole head has been parsed. These protocol classes count
the bytes of a head as they arrive and answer `431 Request Header Fields Too Large` as soon as they
pass the limit (MAX_HEADER_BYTES), then close the connection. `pgbe run` uses them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from typing import Any

import h11
import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

from pgbe.http.problems import PROBLEM_MEDIA_TYPE, problem_body

DEFAULT_MAX_HEAD_BYTES = 65_536


def _response_431(limit: int) -> bytes:
    detail = f"The request line and headers are larger than {limit} bytes"
    body = orjson.dumps(problem_body(431, detail, slug="header-fields-too-large"))
    head = (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n"
    )
    return head + body


def configured_limit() -> int:
    """The limit of this process: MAX_HEADER_BYTES (set by `pgbe run` for its workers), else 64 KiB."""
    return int(os.environ.get("MAX_HEADER_BYTES", DEFAULT_MAX_HEAD_BYTES))


def h11_buffer_limit(max_head_bytes: int) -> int:
    """h11's own buffer bound, above ours, so that our 431 comes first (h11's answer is a 400)."""
    return 2 * max_head_bytes + 262_144


class _HeadLimit:
    """Refuses a request head over the limit before the parser sees the bytes that pass it."""

    transport: asyncio.Transport
    _head_bytes = 0
    _carry = b""
    _max_head_bytes = DEFAULT_MAX_HEAD_BYTES

    def _reading_head(self) -> bool:
        raise NotImplementedError

    def data_received(self, data: bytes) -> None:
        """Count the head's bytes up to its blank line; 431 and close once they pass the limit."""
        if self._reading_head():
            seen = self._carry + data
            end = seen.find(b"\r\n\r\n")
            size = self._head_bytes + (end + 4 - len(self._carry) if end >= 0 else len(data))
            if size > self._max_head_bytes:
                self.transport.write(_response_431(self._max_head_bytes))
                self.transport.close()
                return
        super().data_received(data)  # type: ignore[misc]
        if self._reading_head():
            self._head_bytes += len(data)
            self._carry = data[-3:]
        else:
            self._head_bytes, self._carry = 0, b""


class BoundedH11Protocol(_HeadLimit, H11Protocol):
    """uvicorn's h11 protocol answering 431 for a head over MAX_HEADER_BYTES."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_head_bytes = configured_limit()

    def _reading_head(self) -> bool:
        return bool(self.conn.their_state is h11.IDLE)


HAS_HTTPTOOLS = importlib.util.find_spec("httptools") is not None  # optional: uvicorn then uses h11

if HAS_HTTPTOOLS:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(_HeadLimit, HttpToolsProtocol):
        """uvicorn's httptools protocol answering 431 for a head over MAX_HEADER_BYTES."""

        _in_head = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._max_head_bytes = configured_limit()

        def _reading_head(self) -> bool:
            return self._in_head

        def on_headers_complete(self) -> None:
            """The head is complete."""
            self._in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            """The request is complete: what comes next is the head of the next one."""
            self._in_head = True
            super().on_message_complete()


def protocol_class(parser: str = "auto") -> type[asyncio.Protocol]:
    """Return the bounded HTTP protocol for uvicorn: httptools when installed (or asked for), else h11."""
    if parser in ("auto", "httptools") and HAS_HTTPTOOLS:
        return BoundedHttpToolsProtocol
    if parser == "httptools":
        raise RuntimeError("httptools is not installed")
    return BoundedH11Protocol
