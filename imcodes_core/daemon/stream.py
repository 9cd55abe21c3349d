"""Per-session output fan-out with bounded buffers, the snapshot payload, and the coalesced ``output`` summary.

Bytes are pushed to each viewer's buffer as tmux produces them; the consumer (the server link) takes everything
buffered in one go whenever it is ready to send, so bytes are batched only while they keep coming. A viewer whose
buffer passes its bound is cut over: its buffer is dropped, it gets RESET and a fresh SNAPSHOT, and live output
resumes after the snapshot. Memory per viewer stays bounded whatever the consumer's speed.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable

from imcodes_core.protocol.binary import BinaryKind

DEFAULT_VIEWER_LIMIT = 2 * 1024 * 1024
MAX_FRAME_PAYLOAD = 256 * 1024  # one binary frame; larger runs are split when taken
OUTPUT_EVENT_INTERVAL = 0.5
TAIL_CHARS = 200
_TAIL_BYTES = 8 * 1024
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[P^_][^\x1b]*(?:\x1b\\)?|\x1b[@-Z\\-_]|\x1b."
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Viewer:
    """The pending frames of one subscriber of one session."""

    def __init__(self, limit: int, wake: Callable[[], None]) -> None:
        self.limit = limit
        self._wake = wake
        self._frames: deque[tuple[BinaryKind, bytearray]] = deque()
        self.size = 0
        self.resyncing = True  # until its first snapshot arrives, live output would be meaningless
        self.resets = 0
        self._signalled = False  # the consumer was told there is something to take, and has not taken it yet
        self._early: bytearray | None = None  # bytes read while a snapshot is being captured (see begin_capture)
        self._early_lost = False
        self._capture = 0  # only the latest capture asked for counts: an older answer lacks later bytes
        self._reset_due = False

    def begin_capture(self, *, reset: bool) -> int:
        """A snapshot was just asked for: keep the bytes that arrive until it is answered, to replay after it."""
        self.resyncing = True
        self._early = bytearray()
        self._early_lost = False
        self._reset_due = self._reset_due or reset
        self._capture += 1
        return self._capture

    def output(self, data: bytes) -> bool:
        """Queue live bytes. Returns False when the bound was crossed (the caller starts a resync)."""
        if self.resyncing:
            if self._early is not None:
                if len(self._early) + len(data) > self.limit:
                    self._early = bytearray()  # too much while capturing: the snapshot will be retaken
                    self._early_lost = True
                else:
                    self._early.extend(data)
            return True
        if self._frames and self._frames[-1][0] is BinaryKind.OUTPUT:
            self._frames[-1][1].extend(data)
        else:
            self._frames.append((BinaryKind.OUTPUT, bytearray(data)))
        self.size += len(data)
        if self.size > self.limit:
            self._frames.clear()
            self.size = 0
            self.resyncing = True
            self.resets += 1
            return False
        self._signal()
        return True

    def _signal(self) -> None:
        if not self._signalled:
            self._signalled = True  # tell the consumer once; it takes everything that piled up meanwhile
            self._wake()

    def snapshot(self, payload: bytes, capture: int) -> bool:
        """The fresh screen: replaces whatever was pending (it is all older than the snapshot), then the bytes read
        since the capture was asked for. False when some of those were dropped (the caller takes another one)."""
        if capture != self._capture:
            return True  # a newer capture is on its way and will be applied instead
        early, lost = self._early, self._early_lost
        self._early = None
        self._early_lost = False
        if lost:
            return False
        self._frames.clear()
        self.size = len(payload)
        if self._reset_due:
            self._reset_due = False
            self._frames.append((BinaryKind.RESET, bytearray()))
        self._frames.append((BinaryKind.SNAPSHOT, bytearray(payload)))
        self.resyncing = False
        if early:
            self._frames.append((BinaryKind.OUTPUT, early))
            self.size += len(early)
        self._signal()
        return True

    def take(self) -> list[tuple[BinaryKind, bytes]]:
        """Everything pending, OUTPUT split into frames of at most MAX_FRAME_PAYLOAD."""
        taken: list[tuple[BinaryKind, bytes]] = []
        while self._frames:
            kind, data = self._frames.popleft()
            if kind is BinaryKind.OUTPUT and len(data) > MAX_FRAME_PAYLOAD:
                view = memoryview(data)
                taken.extend(
                    (kind, bytes(view[i : i + MAX_FRAME_PAYLOAD])) for i in range(0, len(data), MAX_FRAME_PAYLOAD)
                )
            else:
                taken.append((kind, bytes(data)))
        self.size = 0
        self._signalled = False
        return taken

    @property
    def pending(self) -> bool:
        return bool(self._frames)


SNAPSHOT_FORMAT = (
    "#{cursor_x} #{cursor_y} #{cursor_flag} #{keypad_cursor_flag} #{alternate_on} #{pane_width} #{pane_height}"
)


def snapshot_payload(info: str, screen: bytes) -> bytes:
    """What xterm.js must be fed after a reset to show the pane: screen lines, then cursor and modes restored.

    ``info`` is the answer to ``display-message -p SNAPSHOT_FORMAT``, ``screen`` the ``capture-pane -p -e`` text.
    """
    fields = (info.split() + ["0"] * 7)[:7]
    try:
        cx, cy, cursor_on, app_cursor, alternate = (int(x) for x in fields[:5])
    except ValueError:
        cx = cy = alternate = app_cursor = 0
        cursor_on = 1
    rows = screen.split(b"\n")
    if rows and rows[-1] == b"":
        rows.pop()
    out = bytearray()
    if alternate:
        out += b"\x1b[?1049h"  # the app is on the alternate screen: leaving it later must restore the main one
    out += b"\x1b[H\x1b[2J"
    out += b"\x1b[0m\r\n".join(rows)
    out += f"\x1b[0m\x1b[{cy + 1};{cx + 1}H".encode()
    if app_cursor:
        out += b"\x1b[?1h"
    if not cursor_on:
        out += b"\x1b[?25l"
    return bytes(out)


def plain_text(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


class OutputSummary:
    """Counts output for the timeline: one ``output`` event per interval at most while output flows.

    ``add`` is called for every chunk; it asks for a flush through ``schedule(delay)`` only when none is pending,
    so an idle session has no timer at all.
    """

    def __init__(self, interval: float = OUTPUT_EVENT_INTERVAL) -> None:
        self.interval = interval
        self.bytes = 0
        self.lines = 0
        self._tail = bytearray()
        self.last_flush = 0.0

    def add(self, data: bytes) -> float | None:
        """Account ``data``; returns the delay after which to flush, or None if a flush is already due."""
        first = self.bytes == 0
        self.bytes += len(data)
        self.lines += data.count(b"\n")
        self._tail += data[-_TAIL_BYTES:]
        if len(self._tail) > 2 * _TAIL_BYTES:
            del self._tail[:-_TAIL_BYTES]
        if not first:
            return None
        return max(0.0, self.last_flush + self.interval - time.monotonic())

    def take(self) -> dict[str, object] | None:
        if self.bytes == 0:
            return None
        lines = [line.rstrip() for line in plain_text(bytes(self._tail[-_TAIL_BYTES:])).split("\n")]
        tail = "\n".join(line for line in lines if line)[-TAIL_CHARS:]
        data: dict[str, object] = {"bytes": self.bytes, "lines": self.lines, "tail": tail}
        self.bytes = self.lines = 0
        self._tail.clear()
        self.last_flush = time.monotonic()
        return data
