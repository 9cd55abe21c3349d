"""Per-session timeline journal: ``<home>/daemon/timeline/<session>.jsonl``, one TimelineEvent per line.

The journal is what lets the daemon resend, after a reconnect, the events the server had not persisted yet. It
is bounded: when a file grows past ``max_bytes`` it is rewritten with its newest half (atomically). Sequence
numbers continue from the last line, so a restarted daemon keeps counting; only a lost journal bumps the epoch.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from imcodes_core.protocol.frames import TimelineEvent

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 1024 * 1024


class Journal:
    def __init__(self, directory: Path, session: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = directory / f"{session}.jsonl"
        self.session = session
        self.max_bytes = max_bytes
        self.epoch = 1
        self.seq = 0
        self._size = 0

    def open(self, fallback_epoch: int) -> bool:
        """Load the position from the file. Returns False when there was no journal (the caller may bump epoch)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        last = _last_event(self.path)
        if last is None:
            self.epoch, self.seq, self._size = max(1, fallback_epoch), 0, 0
            return False
        self.epoch, self.seq = last.epoch, last.seq
        _drop_torn_tail(self.path)
        self._size = self.path.stat().st_size
        return True

    def append(self, kind: str, data: dict[str, Any] | None = None) -> TimelineEvent:
        self.seq += 1
        event = TimelineEvent(
            session=self.session, epoch=self.epoch, seq=self.seq, at=time.time(), kind=kind, data=data or {}
        )
        line = event.model_dump_json() + "\n"
        try:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
            self._size += len(line)
            if self._size > self.max_bytes:
                self._trim()
        except OSError as exc:  # a full disk must not stop the terminal: the event still goes out live
            log.warning("timeline journal %s not written: %s", self.path.name, exc)
        return event

    def events_after(self, epoch: int, seq: int) -> list[TimelineEvent]:
        """Every journaled event after (epoch, seq), oldest first."""
        return [e for e in read_events(self.path) if (e.epoch, e.seq) > (epoch, seq)]

    def _trim(self) -> None:
        lines = self.path.read_bytes().splitlines(keepends=True)
        kept: list[bytes] = []
        size = 0
        for line in reversed(lines):
            if size + len(line) > self.max_bytes // 2:
                break
            kept.append(line)
            size += len(line)
        kept.reverse()
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_bytes(b"".join(kept))
        os.replace(temporary, self.path)
        self._size = size

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def read_events(path: Path) -> list[TimelineEvent]:
    try:
        raw = path.read_text("utf-8")
    except OSError:
        return []
    events: list[TimelineEvent] = []
    for line in raw.splitlines():
        try:
            events.append(TimelineEvent.model_validate(json.loads(line)))
        except ValueError:
            continue  # a torn last line after a crash: skip it
    return events


def _last_event(path: Path) -> TimelineEvent | None:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            tail = handle.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        try:
            return TimelineEvent.model_validate(json.loads(line))
        except ValueError:
            continue
    return None


def _drop_torn_tail(path: Path) -> None:
    """A crash mid-write leaves a last line without its newline: cut it so the next append starts a clean line."""
    with path.open("rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        handle.seek(max(0, size - 64 * 1024))
        tail = handle.read()
        cut = tail.rfind(b"\n")
        handle.truncate(size - len(tail) + cut + 1 if cut >= 0 else max(0, size - len(tail)))
