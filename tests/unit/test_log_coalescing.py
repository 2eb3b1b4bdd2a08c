"""pgbe's log handler writes one event-loop turn's access lines in one call, in order, and loses none."""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
import threading

from pgbe.observability.logs import LineHandler, TextFormatter, make_handler


class CountingStream(io.StringIO):
    """A StringIO that counts the writes it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def _handler(stream: io.StringIO) -> LineHandler:
    return LineHandler(stream, TextFormatter(), coalesce=True)


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("pgbe.test.coalesce", logging.INFO, __file__, 1, message, None, None)


def _log(handler: LineHandler, message: str) -> None:
    """Log as `DirectLine` writes an access line: held for the loop's next turn."""
    with handler.lock:  # type: ignore[union-attr]
        handler.write(handler.format(_record(message)), hold=True)


def _messages(stream: io.StringIO) -> list[str]:
    return [line.split(" INFO ")[1].split()[1] for line in stream.getvalue().splitlines()]


async def test_lines_of_one_loop_turn_are_written_in_one_call_at_the_next_turn() -> None:
    stream = CountingStream()
    handler = _handler(stream)

    for i in range(20):
        _log(handler, f"line-{i}")
    assert stream.getvalue() == ""  # held for the loop's next turn

    await asyncio.sleep(0)

    assert _messages(stream) == [f"line-{i}" for i in range(20)]
    assert stream.writes == 1


async def test_a_line_from_a_thread_writes_the_held_lines_before_it() -> None:
    stream = CountingStream()
    handler = _handler(stream)
    _log(handler, "first")

    thread = threading.Thread(target=_log, args=(handler, "from-thread"))
    thread.start()
    thread.join()
    _log(handler, "third")
    await asyncio.sleep(0)

    assert _messages(stream) == ["first", "from-thread", "third"]


async def test_any_other_line_writes_the_held_lines_before_it_at_once() -> None:
    stream = CountingStream()
    handler = _handler(stream)
    _log(handler, "access-1")
    _log(handler, "access-2")

    handler.handle(_record("shutdown-complete"))  # uvicorn's, the application's: not held

    assert _messages(stream) == ["access-1", "access-2", "shutdown-complete"]
    assert stream.writes == 1


async def test_flush_writes_the_held_lines_at_once() -> None:
    stream = CountingStream()
    handler = _handler(stream)
    _log(handler, "held")

    handler.flush()

    assert _messages(stream) == ["held"]
    await asyncio.sleep(0)
    assert _messages(stream) == ["held"]  # the loop's callback finds nothing left to write


def test_outside_an_event_loop_every_line_is_written_at_once() -> None:
    stream = CountingStream()
    handler = _handler(stream)

    _log(handler, "one")
    assert _messages(stream) == ["one"]
    _log(handler, "two")

    assert _messages(stream) == ["one", "two"]
    assert stream.writes == 2


async def test_lines_held_by_a_stopped_loop_are_written_before_the_next_line() -> None:
    stream = CountingStream()
    handler = _handler(stream)

    written_when_stopped: list[str] = []

    def in_another_loop() -> None:
        loop = asyncio.new_event_loop()

        def log_and_stop() -> None:
            _log(handler, "held-by-a-loop-that-stops")
            loop.stop()  # the turn that would have written the line never comes

        loop.call_soon(log_and_stop)
        loop.run_forever()
        loop.close()
        written_when_stopped.append(stream.getvalue())

    thread = threading.Thread(target=in_another_loop)
    thread.start()
    thread.join()
    _log(handler, "next")
    await asyncio.sleep(0)

    assert written_when_stopped == [""]  # the stopped loop never wrote its line
    assert _messages(stream) == ["held-by-a-loop-that-stops", "next"]


def test_only_streams_with_a_file_descriptor_are_coalesced_by_default() -> None:
    with tempfile.TemporaryFile("w+") as file:
        assert LineHandler(file).coalesce is True
    assert LineHandler(io.StringIO()).coalesce is False
    assert make_handler("json", io.StringIO()).coalesce is False  # type: ignore[attr-defined]
