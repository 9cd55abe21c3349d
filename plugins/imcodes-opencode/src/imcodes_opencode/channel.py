"""OpenCode's ``GET /event`` (server-sent events), followed for the daemon: the opencode driver's session channel.

The TUI started with ``--port N`` serves its HTTP API on 127.0.0.1:N. The stream is plain HTTP/1.1 with chunked
transfer encoding, one ``data: {json}`` event per blank-line-terminated block, and a ``server.heartbeat`` about
every 10 s. Read here with asyncio streams (loopback only, no TLS, nothing worth a client library).

Offline the TUI takes 10-18 s before its server answers, and it goes away when the agent exits: connecting is
retried with a backoff (0.25 s doubling to 1 s: the server may come up only after the TUI's first paint, and a
prompt typed then must not be missed), and a stream that ends or falls silent for longer than
``IDLE_SECONDS`` is opened again. Lines and events are bounded (``MAX_LINE``): an oversized event is dropped whole.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from imcodes_core.channels import ChannelSink
from imcodes_opencode.report import OpenCodeReporter

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
CONNECT_SECONDS = 2.0
HEADER_SECONDS = 5.0
IDLE_SECONDS = 45.0  # several missed heartbeats: the connection is dead even if no FIN came
RETRY_FIRST, RETRY_MAX = 0.25, 1.0  # refused connections on loopback cost next to nothing
MAX_LINE = 4 << 20  # an event's data (message.updated carries whole diffs)
HEADER_LIMIT = 64 << 10  # the StreamReader's line limit: status, header and chunk-size lines
MAX_HEADERS = 100
READ_SIZE = 64 << 10


class StreamError(Exception):
    """The server answered, but not with an event stream (a wrong port, an error status, broken framing)."""


class SseDecoder:
    """Bytes of an SSE body in, the ``data`` of each complete event out (``data:`` lines joined by newlines).

    Comments, ``event:``, ``id:`` and ``retry:`` fields are ignored (OpenCode sends only ``data``). A line, or an
    event's data, longer than ``max_line`` drops that event whole and the decoder goes on with the next one.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self.dropped = 0  # oversized events skipped
        self._buffer = bytearray()
        self._scanned = 0  # how much of the buffer holds no newline (not searched again)
        self._data: list[bytes] = []
        self._size = 0
        self._skipping_line = False
        self._oversized = False

    def feed(self, chunk: bytes) -> list[str]:
        events: list[str] = []
        self._buffer += chunk
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end < 0:
                self._scanned = len(self._buffer)
                if self._scanned > self.max_line:  # a runaway line: forget it and its event
                    self._buffer.clear()
                    self._scanned = 0
                    self._skipping_line = self._oversized = True
                return events
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._scanned = 0
            if self._skipping_line:
                self._skipping_line = False  # the end of the line that was too long
                continue
            self._line(line[:-1] if line.endswith(b"\r") else line, events)

    def _line(self, line: bytes, events: list[str]) -> None:
        if not line:  # the blank line: the event is complete
            if self._oversized:
                self.dropped += 1
            elif self._data:
                events.append(b"\n".join(self._data).decode("utf-8", "replace"))
            self._data, self._size, self._oversized = [], 0, False
            return
        field, _, value = line.partition(b":")
        if field != b"data" or self._oversized:
            return
        value = value[1:] if value.startswith(b" ") else value
        self._size += len(value) + 1
        if self._size > self.max_line:
            self._data, self._oversized = [], True
        else:
            self._data.append(value)


def decode_event(data: str) -> dict[str, object] | None:
    """One event's data as OpenCode's ``{"type": ..., "properties": {...}}`` object, or None."""
    try:
        event = json.loads(data)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("type"), str) else None


class OpenCodeEventChannel:
    """Follows ``http://127.0.0.1:<port>/event`` of one OpenCode TUI and reports through an
    :class:`~imcodes_opencode.report.OpenCodeReporter` (see there for what is reported).

    ``pane_pid``: the pane's process; once it is gone the channel ends instead of knocking on a closed port.
    """

    name = "opencode-sse"

    def __init__(
        self,
        port: int,
        *,
        host: str = HOST,
        path: str = "/event",
        pane_pid: int | None = None,
        credentials: tuple[str, Path] | None = None,
    ) -> None:
        self.credentials = credentials  # basic auth: the user name, and the file holding the password
        self.host = host
        self.port = port
        self.path = path
        self.pane_pid = pane_pid
        self.connections = 0  # streams opened (tests and diagnostics read it)
        self.max_line = MAX_LINE

    async def follow(self, sink: ChannelSink) -> None:
        reporter = OpenCodeReporter(sink)
        delay = RETRY_FIRST
        while True:
            opened = self.connections
            try:
                await self._stream(reporter)
            except (OSError, EOFError, TimeoutError, StreamError, asyncio.LimitOverrunError, ValueError) as exc:
                log.debug("opencode event stream on port %s: %s", self.port, exc or type(exc).__name__)
            if self._pane_gone():
                log.info("the opencode pane %s is gone: its event stream ends", self.pane_pid)
                return
            if self.connections > opened:
                delay = RETRY_FIRST  # it was up: the next try soon (a restart, a dropped connection)
            await asyncio.sleep(delay)
            delay = min(RETRY_MAX, delay * 2)

    async def _stream(self, reporter: OpenCodeReporter) -> None:
        async with asyncio.timeout(CONNECT_SECONDS):
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=HEADER_LIMIT)
        try:
            request = (
                f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: text/event-stream\r\n"
                f"Cache-Control: no-cache\r\nUser-Agent: imcodes\r\n{self._authorization()}\r\n"
            )
            writer.write(request.encode("ascii"))
            await writer.drain()
            async with asyncio.timeout(HEADER_SECONDS):
                chunked = await self._read_head(reader)
            self.connections += 1
            decoder = SseDecoder(self.max_line)
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(IDLE_SECONDS) as idle:
                async for piece in _body(reader, chunked):
                    idle.reschedule(loop.time() + IDLE_SECONDS)
                    for data in decoder.feed(piece):
                        if (event := decode_event(data)) is not None:
                            reporter.report(event)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _authorization(self) -> str:
        """The basic-auth header line, the password read afresh (a restarted session has a new one)."""
        if self.credentials is None:
            return ""
        user, secret = self.credentials
        password = secret.read_text(encoding="ascii").strip()  # OSError: retried like a refused connection
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return f"Authorization: Basic {token}\r\n"

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> bool:
        """Reads the status line and headers; True when the body is chunked."""
        status = (await reader.readuntil(b"\r\n")).decode("latin-1").split()
        if len(status) < 2 or not status[0].startswith("HTTP/1.") or status[1] != "200":
            raise StreamError(f"answered {' '.join(status)[:80]!r}, not 200")
        chunked, event_stream = False, False
        for _ in range(MAX_HEADERS):
            line = (await reader.readuntil(b"\r\n")).decode("latin-1").strip()
            if not line:
                if not event_stream:
                    raise StreamError("not a text/event-stream")
                return chunked
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "transfer-encoding":
                chunked = "chunked" in value
            elif name == "content-type":
                event_stream = value.startswith("text/event-stream")
        raise StreamError("too many headers")

    def _pane_gone(self) -> bool:
        if self.pane_pid is None:
            return False
        try:
            os.kill(self.pane_pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False  # someone else's process (EPERM): it exists
        return False


async def _body(reader: asyncio.StreamReader, chunked: bool) -> AsyncIterator[bytes]:
    """The body's bytes as they arrive; chunked transfer encoding undone. Ends with the body."""
    if not chunked:
        while piece := await reader.read(READ_SIZE):
            yield piece
        return
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise StreamError(f"bad chunk size {size_line[:40]!r}") from None
        if size == 0:
            return
        while size > 0:
            piece = await reader.read(min(size, READ_SIZE))
            if not piece:
                raise EOFError("the stream ended inside a chunk")
            size -= len(piece)
            yield piece
        await reader.readexactly(2)
