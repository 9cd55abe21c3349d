"""One WebSocket peer of the bridge: a bounded outbound queue drained by its own writer task, heartbeat bookkeeping,
and a close that works from any task. Daemons and browsers are both links; browsers add terminal backpressure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from imcodes_core.protocol.binary import BinaryKind, encode_binary

_logger = logging.getLogger("imcodes.server.bridge")

# Close codes (see notes/LINK.md): 4401 refused/revoked, 4403 wrong machine, 4408 no hello / heartbeat lost,
# 4409 replaced by a newer connection of the same machine, 1013 a peer too slow to keep up, 1001 server going away.
CLOSE_UNAUTHORIZED = 4401
CLOSE_WRONG_MACHINE = 4403
CLOSE_TIMEOUT = 4408
CLOSE_REPLACED = 4409
CLOSE_TOO_SLOW = 1013
CLOSE_GOING_AWAY = 1001

TEXT_QUEUE_LIMIT = 16 * 1024 * 1024  # beyond this a peer is not reading at all: close it rather than grow


class Link:
    """A connected peer. `send_text` never blocks and never grows memory without bound."""

    kind = "peer"

    def __init__(self, ws: Any, *, text_limit: int = TEXT_QUEUE_LIMIT) -> None:
        self.ws = ws
        self.closed = False
        self.close_code: int | None = None
        self.last_received = time.monotonic()
        self.last_sent = time.monotonic()
        self.handler_task: asyncio.Task[Any] | None = None
        self._queue: deque[tuple[str | bytes, int, str | None]] = deque()  # (data, size, terminal stream)
        self._queued_bytes = 0
        self._text_limit = text_limit
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def start_writer(self) -> None:
        self.handler_task = asyncio.current_task()
        self._writer = asyncio.create_task(self._write_loop(), name=f"bridge-{self.kind}-writer")

    def send_text(self, data: str) -> None:
        if self.closed:
            return
        if self._queued_bytes + len(data) > self._text_limit:
            _logger.warning("%s is not reading (%d bytes queued): closing it", self.describe(), self._queued_bytes)
            asyncio.get_running_loop().create_task(self.close(CLOSE_TOO_SLOW))
            return
        self._push(data, len(data), None)

    def _push(self, data: str | bytes, size: int, stream: str | None) -> None:
        self._queue.append((data, size, stream))
        self._queued_bytes += size
        self._wake.set()

    async def _write_loop(self) -> None:
        try:
            while True:
                while not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                data, size, _ = self._queue.popleft()
                self._queued_bytes -= size
                await self.ws.send(data)
                self.last_sent = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the socket went away under us: the reader notices and cleans up
            _logger.debug("%s: send failed (%s)", self.describe(), type(error).__name__)
            await self.close(CLOSE_GOING_AWAY)

    def received(self) -> None:
        self.last_received = time.monotonic()

    def heartbeat_due(self, now: float, interval: float) -> str | None:
        """'close' after two intervals of silence (two pings unanswered), 'ping' when we sent nothing for one."""
        if now - self.last_received > 2 * interval + interval / 2:
            return "close"
        if now - self.last_sent >= interval and not self._queue:
            return "ping"
        return None

    async def close(self, code: int, reason: str = "") -> None:
        """Close the socket now and stop its handler (idempotent; callable from any task)."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self._queue.clear()
        self._queued_bytes = 0
        current = asyncio.current_task()
        if self._writer is not None and self._writer is not current:
            self._writer.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason)
        if self.handler_task is not None and self.handler_task is not current and not self.handler_task.done():
            self.handler_task.cancel()

    async def finish(self) -> None:
        """Called by the handler on its way out: stop the writer."""
        self.closed = True
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
            with contextlib.suppress(BaseException):
                await self._writer

    def describe(self) -> str:
        return self.kind


class DaemonLink(Link):
    kind = "daemon"

    def __init__(self, ws: Any, machine: str, owner_id: int) -> None:
        super().__init__(ws)
        self.machine = machine
        self.owner_id = owner_id
        self.hostname = ""
        self.drivers: list[dict[str, Any]] = []
        self.ready = False  # sessions.sync received: queued commands and resubscriptions may go out

    def describe(self) -> str:
        return f"daemon {self.machine}"


class BrowserLink(Link):
    """A browser. Terminal bytes share a byte budget; overflow drops that stream's backlog and sends a RESET."""

    kind = "browser"

    def __init__(
        self,
        ws: Any,
        user_id: int,
        *,
        terminal_limit: int,
        web_session_id: int | None = None,
        api_key_id: int | None = None,
    ) -> None:
        super().__init__(ws)
        self.user_id = user_id
        # The credential whose ticket opened this socket: revoking it closes the socket (bridge.disconnect_*).
        self.web_session_id = web_session_id
        self.api_key_id = api_key_id
        self.terminal_limit = terminal_limit
        self.subscriptions: set[tuple[str, str]] = set()
        self.awaiting_snapshot: set[str] = set()  # streams reset for lag: output is dropped until a snapshot
        self.allowed_machines: dict[str, float] = {}  # machine -> monotonic time it was checked
        # Machines other users shared with this user (imcodes_server.sharing.Grant by machine id): loaded when the
        # socket opens and replaced at once when a share is made or revoked (bridge.shares_changed).
        self.grants: dict[str, Any] = {}
        self.user_name = ""

    def offer_terminal(self, kind: BinaryKind, stream: str, frame: bytes) -> bool:
        """Queue a terminal frame; True when the viewer fell behind and needs a fresh snapshot."""
        if self.closed:
            return False
        if kind == BinaryKind.SNAPSHOT:
            # a snapshot replaces the screen: queued output of that stream is obsolete
            self._drop_stream(stream)
            self.awaiting_snapshot.discard(stream)
        elif stream in self.awaiting_snapshot:
            return False
        elif self._queued_bytes + len(frame) > self.terminal_limit:
            self._drop_stream(stream)
            self.awaiting_snapshot.add(stream)
            reset = encode_binary(BinaryKind.RESET, stream, b"")
            self._push(reset, len(reset), stream)
            _logger.info("%s fell behind on %s: reset, fresh snapshot requested", self.describe(), stream)
            return True
        self._push(frame, len(frame), stream)
        return False

    def _drop_stream(self, stream: str) -> None:
        kept = [item for item in self._queue if item[2] != stream]
        if len(kept) != len(self._queue):
            self._queue = deque(kept)
            self._queued_bytes = sum(size for _, size, _ in kept)

    def describe(self) -> str:
        return f"browser of user {self.user_id}"
