"""Cancel a request whose client went away before its response was complete."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgbe.http import SAFE_METHODS

# A write still running this long after it arrived gets a watcher (a task reading the client's
# messages); one that is done sooner never pays for it. A client that left earlier is seen then.
WATCH_AFTER_SECONDS = 0.05


class CancelOnDisconnectMiddleware:
    """Stop the work of a request once its client has disconnected.

    A watcher reads the client's messages for the app (one body chunk ahead at most, so flow control
    is kept) and, on `http.disconnect` before the response is complete, cancels the request's task:
    the statement in flight is cancelled by the driver and the transaction rolls back, so an abandoned
    write leaves nothing behind unless it had already committed. The watcher starts once the request
    has run for `watch_after` seconds (most writes are answered before): until then the app reads
    from the server directly, and a disconnect it reads itself cancels the work the same way. Sync
    (threadpool) handlers cannot be interrupted; they finish, atomically, and their response is
    dropped. Safe methods (GET, HEAD, OPTIONS, TRACE) are passed through unwatched: they change
    nothing, so there is nothing to roll back, and the statement timeout bounds them.
    """

    def __init__(self, app: ASGIApp, *, watch_after: float = WATCH_AFTER_SECONDS) -> None:
        self.app = app
        self.watch_after = watch_after

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine: an unwatched request is the inner app's own awaitable (see pgbe/stack.py).
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            return self.app(scope, receive, send)
        return _WatchedRequest(self.app, scope, receive, send).run(self.watch_after)


class _WatchedRequest:
    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self.scope = scope
        self.raw_receive = receive
        self.raw_send = send
        self.messages: deque[Message] = deque()
        self.response_complete = False
        self.cancelled_by_disconnect = False
        self.task: asyncio.Task[None] | None = None
        self.watcher: asyncio.Future[None] | None = None
        self.app_receiving = False  # the app is awaiting the server's receive: no second reader now
        self.watch_when_received = False

    async def run(self, watch_after: float) -> None:
        self.task = asyncio.current_task()
        timer = asyncio.get_running_loop().call_later(watch_after, self.start_watching)
        try:
            await self.app(self.scope, self.receive, self.send)
        except asyncio.CancelledError:
            if not self.cancelled_by_disconnect or self.task is None or self.task.uncancel() > 0:
                raise
        finally:
            timer.cancel()
            if self.watcher is not None:
                self.watcher.cancel()

    def start_watching(self) -> None:
        if self.response_complete or self.watcher is not None:
            return
        if self.app_receiving:  # started when the app's own receive returns
            self.watch_when_received = True
            return
        self.available = asyncio.Event()
        self.drained = asyncio.Event()
        self.watcher = asyncio.ensure_future(self.watch())

    def disconnected(self) -> None:
        if not self.response_complete and self.task is not None and not self.cancelled_by_disconnect:
            self.cancelled_by_disconnect = True
            self.task.cancel()

    async def watch(self) -> None:
        while True:
            message = await self.raw_receive()
            self.messages.append(message)
            self.available.set()
            if message["type"] == "http.disconnect":
                self.disconnected()
                return
            if message.get("more_body", False):
                self.drained.clear()
                await self.drained.wait()

    async def receive(self) -> Message:
        if self.watcher is None:
            return await self.receive_directly()
        while not self.messages:
            self.available.clear()
            await self.available.wait()
        message = self.messages[0]
        if message["type"] != "http.disconnect":  # the last word stays for every later call
            self.messages.popleft()
        if not self.messages:
            self.drained.set()
        return message

    async def receive_directly(self) -> Message:
        """The server's next message, before there is a watcher."""
        self.app_receiving = True
        try:
            message = await self.raw_receive()
        finally:
            self.app_receiving = False
        if message["type"] == "http.disconnect":
            self.disconnected()
        elif self.watch_when_received:
            self.watch_when_received = False
            self.start_watching()
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.response_complete = True
        await self.raw_send(message)
