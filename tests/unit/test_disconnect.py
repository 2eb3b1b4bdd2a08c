"""CancelOnDisconnectMiddleware: the work of a request stops when its client goes away."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pgbe.http.disconnect import CancelOnDisconnectMiddleware

SCOPE = {"type": "http", "method": "POST", "path": "/", "headers": []}


class Client:
    """The server side of one request: body chunks, then a disconnect when told to."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.gone = asyncio.Event()
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.chunks:
            body = self.chunks.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(self.chunks)}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.gone.set()  # like a server: after the response, receive() reports the end


async def test_disconnect_before_response_cancels_the_work() -> None:
    client = Client([b"a", b"b"])
    events: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message["body"]
            if not message["more_body"]:
                break
        events.append(body.decode())
        try:
            await asyncio.sleep(30)  # a statement waiting on a lock
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        events.append("finished")

    async def hang_up() -> None:
        while not events:
            await asyncio.sleep(0.01)
        client.gone.set()

    hanging_up = asyncio.ensure_future(hang_up())
    await asyncio.wait_for(CancelOnDisconnectMiddleware(app)(SCOPE, client.receive, client.send), 10)
    await hanging_up
    assert events == ["ab", "cancelled"]
    assert client.sent == []


async def test_disconnect_after_complete_response_does_not_cancel() -> None:
    client = Client([b""])
    events: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        await asyncio.sleep(0.05)  # a background task after the response
        events.append("background done")

    await asyncio.wait_for(CancelOnDisconnectMiddleware(app)(SCOPE, client.receive, client.send), 10)
    assert events == ["background done"]
    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]


async def test_disconnect_app_reading_after_body_sees_disconnect() -> None:
    client = Client([b"x"])
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((await receive())["type"])
        client.gone.set()
        try:
            seen.append((await receive())["type"])
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    await asyncio.wait_for(CancelOnDisconnectMiddleware(app)(SCOPE, client.receive, client.send), 10)
    assert seen[0] == "http.request"
    assert "cancelled" in seen


async def test_disconnect_outside_cancellation_still_propagates() -> None:
    client = Client([b""])
    started = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        started.set()
        await asyncio.sleep(30)

    task = asyncio.ensure_future(CancelOnDisconnectMiddleware(app)(SCOPE, client.receive, client.send))
    await started.wait()
    task.cancel()  # e.g. the server shutting down
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_disconnect_body_is_read_one_chunk_ahead_at_most() -> None:
    pulled: list[int] = []
    chunks = [b"1", b"2", b"3", b"4"]

    async def receive() -> dict[str, Any]:
        pulled.append(len(pulled))
        if len(pulled) <= len(chunks):
            return {"type": "http.request", "body": chunks[len(pulled) - 1], "more_body": len(pulled) < 4}
        await asyncio.sleep(30)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        return None

    async def app(scope: Any, inner_receive: Any, send: Any) -> None:
        first = await inner_receive()
        await asyncio.sleep(0.05)  # the watcher must not race ahead while the app is busy
        assert first["body"] == b"1"
        assert len(pulled) <= 2
        while (await inner_receive())["more_body"]:
            pass

    await asyncio.wait_for(CancelOnDisconnectMiddleware(app)(SCOPE, receive, send), 10)
    assert len(pulled) >= 4


async def test_disconnect_safe_method_is_not_watched_and_runs_to_completion() -> None:
    """A GET is not cancelled by an early disconnect: it changes nothing, so it just finishes."""
    completed: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0.01)
        completed.append(True)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("nothing is sent")

    await CancelOnDisconnectMiddleware(app)({**SCOPE, "method": "GET"}, receive, send)
    assert completed == [True]


async def test_disconnect_a_write_answered_before_the_watch_starts_reads_nothing_more() -> None:
    client = Client([b"x"])
    pulled: list[str] = []

    async def receive() -> dict[str, Any]:
        message = await client.receive()
        pulled.append(message["type"])
        return message

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    await CancelOnDisconnectMiddleware(app, watch_after=0.2)(SCOPE, receive, client.send)
    await asyncio.sleep(0.3)  # the timer was cancelled: no watcher reads the client afterwards
    assert pulled == ["http.request"]


async def test_disconnect_watch_due_while_the_app_reads_a_slow_body_starts_after_that_read() -> None:
    arrived = asyncio.Event()
    readers: list[int] = []
    reading = [0]

    async def receive() -> dict[str, Any]:
        reading[0] += 1
        readers.append(reading[0])
        try:
            if len(readers) == 1:
                await arrived.wait()  # a slow body chunk, still arriving when the watch is due
                return {"type": "http.request", "body": b"late", "more_body": False}
            await asyncio.sleep(0.05)
            return {"type": "http.disconnect"}
        finally:
            reading[0] -= 1

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("nothing is sent")

    events: list[str] = []

    async def app(scope: Any, inner_receive: Any, send: Any) -> None:
        events.append((await inner_receive())["body"].decode())
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    async def late_body() -> None:
        await asyncio.sleep(0.1)
        arrived.set()

    arriving = asyncio.ensure_future(late_body())
    await asyncio.wait_for(CancelOnDisconnectMiddleware(app, watch_after=0.02)(SCOPE, receive, send), 10)
    await arriving
    assert events == ["late", "cancelled"]
    assert max(readers) == 1  # never two readers of the server's receive at once
