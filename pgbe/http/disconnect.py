"""Cancel a request whose client went away before its response was complete."""

from __future__ import annotations

import asyncio
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgbe.http import SAFE_METHODS


class CancelOnDisconnectMiddleware:
    """Stop the work of a request once its client has disconnected.

    A watcher reads the client's messages for the app (one body chunk ahead at most, so flow control
    is kept) and, on `http.disconnect` before the response is complete, cancels the request's task:
    the statement in flight is cancelled by the driver and the transaction rolls back, so an abandoned
    write leaves nothing behind unless it had already committed. Sync (threadpool) handlers cannot be
    interrupted; they finish, atomically, and their response is dropped. Safe methods (GET, HEAD,
    OPTIONS, TRACE) are passed through unwatched: they change nothing, so there is nothing to roll back, the
    statement timeout bounds them, and the read path saves a task and two events per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        await _WatchedRequest(self.app, scope, receive, send).run()


class _WatchedRequest:
    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self.scope = scope
        self.raw_receive = receive
        self.raw_send = send
        self.messages: deque[Message] = deque()
        self.available = asyncio.Event()
        self.drained = asyncio.Event()
        self.response_complete = False
        self.cancelled_by_disconnect = False
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        self.task = asyncio.current_task()
        watcher = asyncio.ensure_future(self.watch())
        try:
            await self.app(self.scope, self.receive, self.send)
        except asyncio.CancelledError:
            if not self.cancelled_by_disconnect or self.task is None or self.task.uncancel() > 0:
                raise
        finally:
            watcher.cancel()

    async def watch(self) -> None:
        while True:
            message = await self.raw_receive()
            self.messages.append(message)
            self.available.set()
            if message["type"] == "http.disconnect":
                if not self.response_complete and self.task is not None:
                    self.cancelled_by_disconnect = True
                    self.task.cancel()
                return
            if message.get("more_body", False):
                self.drained.clear()
                await self.drained.wait()

    async def receive(self) -> Message:
        while not self.messages:
            self.available.clear()
            await self.available.wait()
        message = self.messages[0]
        if message["type"] != "http.disconnect":  # the last word stays for every later call
            self.messages.popleft()
        if not self.messages:
            self.drained.set()
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.response_complete = True
        await self.raw_send(message)
