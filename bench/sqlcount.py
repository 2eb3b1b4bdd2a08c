"""Count the SQL statements a server sends, with a TCP proxy that reads the PostgreSQL wire protocol.

The application under test connects to the proxy instead of PostgreSQL (its DATABASE_URL points at
the proxy's port). The proxy forwards every byte unchanged and decodes the client -> server stream:
a simple Query ('Q') carries its SQL text; an extended-protocol Execute ('E') names a portal, which a
Bind ('B') tied to a statement, which a Parse ('P') gave its SQL text. Each Q or E is one statement
execution. Nothing is sampled or estimated: for a case, the harness sends N requests one after the
other through the proxy and divides the counts by N.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102


def classify(text: str) -> str:
    """Return the kind of a statement: statement, transaction (BEGIN/COMMIT/...) or pool-reset."""
    head = text.lstrip().split(None, 1)[0].upper().rstrip(";") if text.strip() else ""
    if "pg_advisory_unlock_all" in text or head in ("RESET", "DISCARD", "UNLISTEN", "CLOSE"):
        return "pool-reset"
    if head in ("BEGIN", "COMMIT", "ROLLBACK", "START", "SAVEPOINT", "RELEASE", "END"):
        return "transaction"
    return "statement"


@dataclass
class _Session:
    """Decoding state of one client connection."""

    statements: dict[bytes, str] = field(default_factory=dict)
    portals: dict[bytes, bytes] = field(default_factory=dict)


class StatementCounter:
    """A PostgreSQL proxy on 127.0.0.1 that counts and records the statements passing through."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.executed: list[str] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sql-counter")

    def start(self) -> StatementCounter:
        """Start listening; `port` is set when this returns."""
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        """Stop the proxy's event loop."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def reset(self) -> None:
        """Forget what was counted so far."""
        with self._lock:
            self.executed.clear()
            self.connections = 0

    def snapshot(self) -> tuple[Counter[str], list[str]]:
        """Return the counts per kind and the statements' SQL texts seen since the last reset."""
        with self._lock:
            texts = list(self.executed)
        return Counter(classify(t) for t in texts), texts

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        with self._lock:
            self.connections += 1
        back = asyncio.ensure_future(self._pipe(server_r, client_w))
        try:
            await self._client_to_server(client_r, server_w)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            server_w.close()
            await asyncio.gather(back, return_exceptions=True)
            client_w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _client_to_server(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # startup phase: untyped packets (SSL/GSS requests come before the real startup)
            header = await reader.readexactly(8)
            length, code = struct.unpack("!ii", header)
            rest = await reader.readexactly(length - 8)
            writer.write(header + rest)
            await writer.drain()
            if code == _CANCEL_REQUEST:
                return
            if code not in (_SSL_REQUEST, _GSSENC_REQUEST):
                break
        session = _Session()
        while True:
            header = await reader.readexactly(5)
            kind, length = header[:1], struct.unpack("!i", header[1:])[0]
            body = await reader.readexactly(length - 4)
            self._decode(session, kind, body)
            writer.write(header + body)
            if kind in (b"S", b"Q", b"H", b"X"):
                await writer.drain()
            if kind == b"X":
                return

    def _decode(self, session: _Session, kind: bytes, body: bytes) -> None:
        if kind == b"Q":
            self._record(body.rstrip(b"\x00").decode("utf-8", "replace"))
        elif kind == b"P":
            name, rest = body.split(b"\x00", 1)
            session.statements[name] = rest.split(b"\x00", 1)[0].decode("utf-8", "replace")
        elif kind == b"B":
            portal, rest = body.split(b"\x00", 1)
            session.portals[portal] = rest.split(b"\x00", 1)[0]
        elif kind == b"E":
            portal = body.split(b"\x00", 1)[0]
            statement = session.portals.get(portal, b"")
            self._record(session.statements.get(statement, "<unknown prepared statement>"))

    def _record(self, text: str) -> None:
        with self._lock:
            self.executed.append(text)
