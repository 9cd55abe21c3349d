"""One live session: its control client, its output pipe, viewers, journal, output summary and state.

The control client carries commands (input, resize, snapshots) and tells us when the session ends; its own
``%output`` stream is switched off. Live bytes come through ``pipe-pane -O`` (see pipe.py), which costs tmux far
less. Everything here is driven by tmux's own output: a session that prints nothing costs nothing (no timer, no
poll). While output flows, one ``output`` timeline event per 0.5 s and one state reading per ``DETECT_INTERVAL``
happen at most, the last always after the last output.

Snapshot then live bytes for a new viewer: the pipe is drained before the capture is asked for, and the bytes read
until its answer are replayed after the snapshot. Residual race: bytes tmux produced just before the capture but
that were still on their way (tmux -> cat -> FIFO) when we drained are both in the snapshot and replayed after it
(typically a few bytes, at most what was in flight); nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from imcodes_core.daemon.journal import Journal
from imcodes_core.daemon.keys import LineTracker, input_commands
from imcodes_core.daemon.pipe import PaneOutput
from imcodes_core.daemon.sessions import SessionRecord
from imcodes_core.daemon.stream import SNAPSHOT_FORMAT, OutputSummary, Viewer, plain_text, snapshot_payload
from imcodes_core.daemon.tmux import ControlClient, Reply, Tmux
from imcodes_core.protocol.frames import SessionInfo, TimelineEvent
from imcodes_core.redaction import SecretRegistry, redact
from imcodes_core.states import (
    GUESS_CONFIDENCE,
    UNKNOWN_VERDICT,
    AgentEvent,
    Observation,
    SessionArbiter,
    SessionState,
    StateDetector,
    StateVerdict,
)

log = logging.getLogger(__name__)

RECENT_EVENTS = 50  # machine-channel events the detectors see, newest last
# While output flows the screen is read at most this often: a dialog that went away after an approval, when no
# machine channel says so (Codex), is seen within this (it was 0.5 s: 420-450 ms approval-to-working delays).
DETECT_INTERVAL = 0.15


class SessionSink(Protocol):
    """Where a live session reports to (the daemon)."""

    def timeline(self, event: TimelineEvent) -> None: ...

    def updated(self, live: LiveSession) -> None: ...

    def control_lost(self, live: LiveSession) -> None: ...

    def wake(self, session: str) -> None: ...


class LiveSession:
    def __init__(
        self,
        record: SessionRecord,
        tmux: Tmux,
        journal: Journal,
        detectors: Sequence[StateDetector],
        sink: SessionSink,
        *,
        viewer_limit: int,
        secrets: SecretRegistry | None = None,
    ) -> None:
        self.record = record
        self.tmux = tmux
        self.journal = journal
        self.detectors = [d for d in detectors if d.applies_to(record.driver)]
        self._own_detectors = any(getattr(d, "drivers", None) for d in self.detectors)  # a plugin's, for this driver
        self.sink = sink
        self.viewer_limit = viewer_limit
        self.secrets = secrets
        self.viewers: dict[str, Viewer] = {}
        self.summary = OutputSummary()
        self.lines = LineTracker()
        self.verdict: StateVerdict = UNKNOWN_VERDICT
        self.cols = 120
        self.rows = 40
        self.pane = b""
        self.control: ControlClient | None = None
        self.pipe: PaneOutput | None = None
        self.closing = False
        self._flush_handle: asyncio.TimerHandle | None = None
        self._detect_handle: asyncio.TimerHandle | None = None
        self._last_detect = 0.0
        self._detecting = False
        self._detect_again = False
        self.events: deque[AgentEvent] = deque(maxlen=RECENT_EVENTS)  # from hooks (daemon/channels.py)
        self.screen = ""  # the last screen the detectors read
        self.arbiter = SessionArbiter()  # remembers since when each detector reads what it reads (staleness)

    @property
    def name(self) -> str:
        return self.record.name

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def attach(self) -> None:
        """Start (or restart) the control client, learn the pane and its size, and pipe its output to us."""
        control = ControlClient(
            self.tmux, self.name, _ignore_output, lambda: None, self._control_exit, flags="no-output"
        )  # no-output (tmux >= 3.2): spare tmux escaping every byte again for a stream the pipe already carries
        self.control = control
        await control.start()
        reply = await control.command(
            f"display-message -p -t ={self.name}: '#{{pane_id}} #{{pane_width}} #{{pane_height}}'"
        )
        parts = reply.text().split()
        if not reply.ok or len(parts) != 3:
            await control.close()
            raise RuntimeError(f"cannot attach to tmux session {self.name}: {reply.text()[:200]}")
        self.pane = parts[0].encode()
        self.cols, self.rows = int(parts[1]), int(parts[2])
        if self.pipe is None or self.pipe.closed:
            self.pipe = PaneOutput(self._output, lambda: None)
        piped = await control.command(self.pipe.pipe_command(parts[0]))  # replaces a pipe a previous daemon left
        if not piped.ok:
            await control.close()
            raise RuntimeError(f"cannot pipe the output of {self.name}: {piped.text()[:200]}")
        self._detect()
        for viewer in self.viewers.values():  # a re-attached client: viewers need a screen they can trust
            viewer.resyncing = True
            self._snapshot(viewer, reset=True)

    async def detach(self) -> None:
        self.closing = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._detect_handle is not None:
            self._detect_handle.cancel()
            self._detect_handle = None
        self._flush_output()
        if self.control is not None:
            if self.pane and self.control.alive:
                self.control.send(f"pipe-pane -t {self.pane.decode()}")  # close our pipe: nobody reads it now
            await self.control.close()
        if self.pipe is not None:
            self.pipe.close()

    def settle_output(self) -> None:
        """Take in what the pipe still holds and record it, so an exit event comes after the session's last output."""
        if self.pipe is not None:
            self.pipe.drain()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._flush_output()

    def _control_exit(self) -> None:
        if not self.closing:
            self.sink.control_lost(self)

    # -- timeline ------------------------------------------------------------------------------------------------

    def emit(self, kind: str, data: dict[str, Any] | None = None) -> TimelineEvent:
        event = self.journal.append(kind, data)
        self.sink.timeline(event)
        return event

    def info(self) -> SessionInfo:
        return SessionInfo(
            name=self.name,
            driver=self.record.driver,
            label=self.record.label,
            cwd=self.record.cwd,
            state=str(self.verdict.state),
            state_reason=self.verdict.to_dict() if self.verdict.readings else None,
            epoch=self.journal.epoch,
            seq=self.journal.seq,
            cols=max(2, min(1000, self.cols)),
            rows=max(2, min(1000, self.rows)),
            created_at=self.record.created_at,
            conversation=self.record.conversation or None,
        )

    # -- output --------------------------------------------------------------------------------------------------

    def _output(self, data: bytes) -> None:
        behind = [viewer for viewer in self.viewers.values() if not viewer.output(data)]
        for viewer in behind:  # after every viewer got this chunk: a resync drains the pipe, order must hold
            log.info("viewer of %s fell %d bytes behind: reset and fresh snapshot", self.name, viewer.limit)
            self._snapshot(viewer, reset=True)
        delay = self.summary.add(data)
        loop = asyncio.get_running_loop()
        if delay is not None and self._flush_handle is None:
            self._flush_handle = loop.call_later(delay, self._flush_timer)
        if self._detect_handle is None:  # output after the last reading: one more reading, at most this soon
            wait = max(0.0, self._last_detect + DETECT_INTERVAL - time.monotonic())
            self._detect_handle = loop.call_later(wait, self._detect_timer)

    def _flush_timer(self) -> None:
        self._flush_handle = None
        self._flush_output()

    def _detect_timer(self) -> None:
        self._detect_handle = None
        self._last_detect = time.monotonic()
        self._detect()

    def _flush_output(self) -> None:
        data = self.summary.take()
        if data is not None:
            data["tail"] = redact(str(data["tail"]), self.secrets)
            self.emit("output", data)

    # -- viewers -------------------------------------------------------------------------------------------------

    def subscribe(self, key: str) -> None:
        viewer = self.viewers.get(key)
        if viewer is None:
            viewer = Viewer(self.viewer_limit, lambda: self.sink.wake(self.name))
            self.viewers[key] = viewer
        self._snapshot(viewer, reset=False)

    def unsubscribe(self, key: str) -> None:
        self.viewers.pop(key, None)

    def _snapshot(self, viewer: Viewer, *, reset: bool) -> None:
        if self.control is None:
            return
        viewer.resyncing = True  # older bytes are not for this viewer: the snapshot shows their effect
        if self.pipe is not None:
            self.pipe.drain()
        capture = viewer.begin_capture(reset=reset)
        info: list[str] = []
        self.control.send(
            f"display-message -p -t {self.pane.decode()} '{SNAPSHOT_FORMAT}'",
            lambda reply: info.append(reply.text()),
        )

        def done(reply: Reply) -> None:
            if reply.ok and any(v is viewer for v in self.viewers.values()):
                payload = snapshot_payload(info[0] if info else "", b"\n".join(reply.lines))
                if not viewer.snapshot(payload, capture):
                    self._snapshot(viewer, reset=True)  # too much output while capturing: take another

        self.control.send(f"capture-pane -p -e -t {self.pane.decode()}", done)

    # -- input and size ------------------------------------------------------------------------------------------

    def input(self, data: str) -> bool:
        control = self.control
        if control is None or not control.alive:
            return False
        for command in input_commands(self.pane.decode(), data):
            control.send(command)
        for line in self.lines.feed(data):
            self.emit("input", {"text": redact(line, self.secrets)[:2000]})
        return True

    def resize(self, cols: int, rows: int) -> bool:
        control = self.control
        if control is None or not control.alive:
            return False
        control.send(f"refresh-client -C {cols}x{rows}")
        if (cols, rows) != (self.cols, self.rows):
            self.cols, self.rows = cols, rows
            self.emit("resized", {"cols": cols, "rows": rows})
            self.sink.updated(self)
        return True

    # -- state ---------------------------------------------------------------------------------------------------

    def _detect(self) -> None:
        """Read the screen and run the detectors (after output settled, or at most once per output interval)."""
        control = self.control
        if control is None or not self.detectors:
            return
        if self._detecting:
            # A read is in flight and may predate the output that asked for this one (the shell's prompt after a
            # command): read once more when it answers, or the last state seen would stick until more output.
            self._detect_again = True
            return
        self._detecting = True
        self._detect_again = False

        def done(reply: Reply) -> None:
            self._detecting = False
            if reply.ok:
                self.judge(plain_text(b"\n".join(reply.lines)))
            if self._detect_again:
                self._detect()

        control.send(f"capture-pane -p -t {self.pane.decode()}", done)

    def machine_event(self, event: AgentEvent) -> None:
        """An event from a machine channel: judge again at once, with the screen last read."""
        self.events.append(event)
        self.judge(self.screen)

    def judge(self, screen: str, *, pane_dead: bool = False, exit_status: int | None = None) -> None:
        self.screen = screen
        now = time.time()  # the clock hook events are stamped with (imcodes hook runs on this machine)
        observation = Observation(
            driver=self.record.driver,
            screen=screen,
            events=tuple(self.events),
            pane_dead=pane_dead,
            exit_status=exit_status,
            now=now,
        )
        readings = []
        started = self.verdict.state not in (SessionState.UNKNOWN, SessionState.STARTING)
        for detector in self.detectors:
            try:
                reading = detector.read(observation)
            except Exception:  # one broken detector must not blind the others
                log.exception("state detector %s failed", getattr(detector, "name", detector))
                continue
            if (
                reading is not None
                and started
                and self._own_detectors
                and getattr(detector, "fallback", False)
                and reading.confidence < GUESS_CONFIDENCE
            ):
                continue  # the driver's own detectors could not tell: keep what they said last
            readings.append(reading)
        if started and not any(readings):
            return  # nobody can tell from this screen: the session stays as it was
        verdict = self.arbiter.arbitrate(readings, now)
        changed = verdict.state != self.verdict.state
        self.verdict = verdict
        if changed:
            best = verdict.readings[0] if verdict.readings else None
            evidence = {"detector": best.detector, "source": best.source.name.lower()} if best else {}
            self.emit("state.changed", {"state": str(verdict.state), "reason": verdict.reason[:500], **evidence})
            self.sink.updated(self)


def _ignore_output(pane: bytes, data: bytes) -> None:
    """Live bytes come through the pipe; a tmux without ``no-output`` would still send them here: drop them."""
