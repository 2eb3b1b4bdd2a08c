"""Log lines as JSON objects (production) or readable text (development), each with its request id.

Every record handled by pgbe's handler gets `request_id` from the request in progress. Structured
fields travel in `extra={"fields": {...}}`; the JSON formatter writes them as keys of the line, the
text formatter as `key=value` pairs after the message.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import threading
import time
from typing import IO, Any, Literal

import orjson

from pgbe.observability.context import current_request_id

LogFormat = Literal["auto", "json", "text"]
_RESERVED = frozenset({"time", "level", "logger", "message", "request_id"})


class RequestIdFilter(logging.Filter):
    """Give every record the id of the request it was logged for (None outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Set `record.request_id` unless the record already carries one."""
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


_MILLISECONDS = tuple(f".{ms:03d}Z" for ms in range(1000))


class _Clock:
    """UTC timestamps with milliseconds; the seconds part is formatted once per second."""

    def __init__(self) -> None:
        self.second = -1
        self.prefix = ""

    def stamp(self, created: float) -> str:
        second = int(created)
        if second != self.second:
            self.second = second
            self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self.prefix + _MILLISECONDS[int((created - second) * 1000)]


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, the fields, the traceback."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        if type(record) is FastRecord:  # pgbe's access line: its fields never use a reserved key
            return self.line(
                record.created, record.levelname, record.name, record.msg, record.request_id, record.fields
            )
        line: dict[str, Any] = {
            "time": self.clock.stamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        fields = getattr(record, "fields", None)
        if fields:
            if _RESERVED.isdisjoint(fields):
                line.update(fields)
            else:
                line.update((k, v) for k, v in fields.items() if k not in _RESERVED)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        return orjson.dumps(line, default=str).decode()

    def line(
        self,
        created: float,
        levelname: str,
        name: str,
        message: str,
        request_id: str | None,
        fields: dict[str, Any],
    ) -> str:
        """Return the line of a record made of these parts (`fields` use no reserved key)."""
        return orjson.dumps(
            {
                "time": self.clock.stamp(created),
                "level": levelname,
                "logger": name,
                "message": message,
                "request_id": request_id,
                **fields,
            },
            default=str,
        ).decode()


class TextFormatter(logging.Formatter):
    """`12:04:05.120 INFO pgbe.access GET /things/{id} 200 ... request_id=...` for a developer's terminal."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one readable line (and its traceback below)."""
        text = self.line(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            getattr(record, "request_id", None),
            getattr(record, "fields", None) or {},
        )
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text

    def line(
        self,
        created: float,
        levelname: str,
        name: str,
        message: str,
        request_id: str | None,
        fields: dict[str, Any],
    ) -> str:
        """Return the line of a record made of these parts, without a traceback."""
        parts = [self.clock.stamp(created)[11:-1], f"{levelname:<7}", name, message]
        if fields:
            parts.extend(f"{k}={v}" for k, v in fields.items() if v is not None)
        if request_id is not None:
            parts.append(f"request_id={request_id}")
        return " ".join(parts)


LineFormatter = JsonFormatter | TextFormatter


def resolve_format(log_format: LogFormat, *, development: bool) -> Literal["json", "text"]:
    """Return the format `auto` stands for: text on a developer's machine, JSON elsewhere."""
    if log_format == "auto":
        return "text" if development else "json"
    return log_format


_MAX_PENDING = 1024  # lines held for one turn of the event loop before they are written at once


def _has_descriptor(stream: IO[str]) -> bool:
    """Whether writing to `stream` ends in a system call (a file, pipe or terminal, not a StringIO)."""
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False
    return True


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes each line whole, and a loop turn's access lines in one call.

    A worker under load finishes many requests in one turn of its event loop, each with an access
    line. Written one by one, every line is a system call (about 5 % of a cheap GET's CPU); held until
    the loop's next turn (`write(hold=True)`, which `DirectLine` asks for), the turn's lines go out in
    one. They wait no longer than that turn, in the order they were logged: any other line (uvicorn's,
    the application's, an error), and a held line logged outside the loop (a thread) or in another
    loop, writes what is held before it. `flush()` writes what is held. Streams without a file
    descriptor (a test's StringIO) are written at once, as is everything when `coalesce=False`.
    """

    def __init__(
        self, stream: IO[str], formatter: LineFormatter | None = None, *, coalesce: bool | None = None
    ) -> None:
        super().__init__(stream)
        self.line_buffered = bool(getattr(stream, "line_buffering", False))
        self.line_formatter = formatter  # pgbe's own: lines written directly use it (`DirectLine`)
        self.own_filters: list[Any] = []
        self.coalesce = _has_descriptor(stream) if coalesce is None else coalesce
        self.pending: list[str] = []
        self.pending_loop: asyncio.AbstractEventLoop | None = None  # whose next turn writes `pending`
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        """Write the formatted record and a newline."""
        try:
            self.write(self.format(record))
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write(self, text: str, *, hold: bool = False) -> None:
        """Write `text` and a newline; with `hold`, at the loop's next turn (the caller holds the lock)."""
        if hold and self.coalesce:
            loop = asyncio._get_running_loop()
            if loop is not None:
                if self.pending_loop is None:
                    self.pending_loop = loop
                    loop.call_soon(self._write_pending)
                if self.pending_loop is loop and len(self.pending) < _MAX_PENDING:
                    self.pending.append(text)
                    return
        if self.pending:  # any other line, another thread, a stopped loop or a full turn: in order, now
            self.pending.append(text)
            text = self._take_pending()
        self._write_now(text)

    def _write_now(self, text: str) -> None:
        self.stream.write(text + "\n")
        if not self.line_buffered:
            self.stream.flush()

    def _take_pending(self) -> str:
        """The held lines as one text, no longer held (the caller holds the lock)."""
        text = "\n".join(self.pending)
        self.pending.clear()
        self.pending_loop = None
        return text

    def _write_pending(self) -> None:
        """Write the lines held for this loop turn (a callback of the loop)."""
        with self.lock:  # type: ignore[union-attr]
            if self.pending:
                self._write_now(self._take_pending())
            self.pending_loop = None

    def flush(self) -> None:
        """Write the lines held for the loop's next turn, then flush the stream."""
        with self.lock:  # type: ignore[union-attr]
            if self.pending:
                self._write_now(self._take_pending())
        super().flush()

    def plain(self, level: int) -> LineFormatter | None:
        """Return pgbe's formatter when a record of `level` would reach it unchanged, else None."""
        formatter = self.line_formatter
        if level < self.level or self.formatter is not formatter or self.filters != self.own_filters:
            return None
        return formatter


class DirectLine:
    """A logger's lines written straight through pgbe's handler while nothing else is on their way.

    The standard route (`Logger.handle`: the logger's filters, the handlers of every logger up to the
    root, each handler's filters, then the formatter) costs a request's access line more than the
    line itself. While that route would end in pgbe's handler alone, the line is formatted and written
    directly, under the handler's lock, exactly as the route would. It is checked at every line, so a
    handler, filter or formatter that a project (or a test's log capture) adds anywhere on the way,
    or `propagate = False`, sends the lines the standard route again.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def handler(self, level: int) -> tuple[LineHandler, LineFormatter] | None:
        """Return pgbe's handler and formatter when they alone would see a record of `level`, else None."""
        logger = self.logger
        if logger.filters:
            return None
        root = logging.root
        while logger is not root:
            if logger.handlers or not logger.propagate or logger.parent is None:
                return None
            logger = logger.parent
        handlers = root.handlers
        if len(handlers) != 1:
            return None
        handler = handlers[0]
        if type(handler) is not LineHandler:
            return None
        formatter = handler.line_formatter  # `handler.plain(level)`, inline: this runs for every line
        if (
            level < handler.level
            or handler.formatter is not formatter
            or handler.filters != handler.own_filters
        ):
            return None
        return None if formatter is None else (handler, formatter)

    def log(self, level: int, message: str, fields: dict[str, Any], request_id: str) -> None:
        """Log `message` at `level` with its fields and request id (the caller checked `isEnabledFor`)."""
        found = self.handler(level)
        if found is None:
            self.logger.handle(FastRecord(self.logger.name, level, message, fields, request_id))
            return
        handler, formatter = found
        levelname = logging.getLevelName(level)
        try:
            with handler.lock:  # type: ignore[union-attr]
                handler.write(
                    formatter.line(time.time(), levelname, self.logger.name, message, request_id, fields),
                    hold=True,
                )
        except RecursionError:
            raise
        except Exception:
            handler.handleError(FastRecord(self.logger.name, level, message, fields, request_id))


class FastRecord(logging.LogRecord):
    """A record built without the caller, thread and process look-ups of `LogRecord` (~1 us less).

    For the one line of every request; the attributes formatters read are all there.
    """

    def __init__(self, name: str, level: int, message: str, fields: dict[str, Any], request_id: str) -> None:
        now = time.time()
        self.name = name
        self.msg = message
        self.args = None
        self.levelno = level
        self.levelname = logging.getLevelName(level)
        self.pathname = __file__
        self.filename = "logs.py"
        self.module = "logs"
        self.lineno = 0
        self.funcName = "access"
        self.exc_info = None
        self.exc_text = None
        self.stack_info = None
        self.created = now
        self.msecs = (now - int(now)) * 1000
        self.relativeCreated = (now - _START) * 1000
        self.thread = threading.get_ident()
        self.threadName = None
        self.processName = None
        self.process = _pid[0]
        self.taskName = None
        self.fields = fields
        self.request_id = request_id


_START = time.time()
_pid = [os.getpid()]  # os.getpid() is a system call; the value changes only in a forked child
os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


def make_handler(log_format: Literal["json", "text"], stream: IO[str] | None = None) -> logging.Handler:
    """Return a stream handler (stderr by default) with pgbe's formatter and request-id filter."""
    handler = LineHandler(stream or sys.stderr, JsonFormatter() if log_format == "json" else TextFormatter())
    request_ids = RequestIdFilter()  # a no-op for lines that carry their request id (`DirectLine`)
    handler.addFilter(request_ids)
    handler.own_filters = [request_ids]
    handler.set_name("pgbe")
    return handler


# uvicorn's loggers write through handlers of their own; they are sent to the root logger instead, so
# that every line of the process has one format.
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
_OWN_LOGGERS = ("pgbe", "app", "uvicorn")  # LOG_LEVEL applies to these; the root stays at WARNING


def configure_logging(
    log_format: Literal["json", "text"], *, level: str = "INFO", access_log: bool = True
) -> logging.Handler:
    """Install pgbe's handler on the root logger (replacing an earlier one of pgbe's) and return it."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "pgbe"]:
        root.removeHandler(old)
    handler = make_handler(log_format)
    root.addHandler(handler)
    # Libraries' own INFO chatter (httpx logs every request it sends) stays out unless asked for.
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    for name in _OWN_LOGGERS:
        logging.getLogger(name).setLevel(level.upper())
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        server_logger.handlers = []
        server_logger.propagate = True
    # pgbe.access writes the one line per request; uvicorn's own access line would repeat it.
    logging.getLogger("uvicorn.access").disabled = access_log
    return handler
