"""Session channels: machine channels the daemon follows for an agent in a tmux pane.

Hooks push their events into the daemon (``imcodes hook`` writes to its event socket, daemon/channels.py). Other
machine channels have to be read: an HTTP event stream the agent serves (OpenCode's ``GET /event``), a JSON-lines
file it appends to (Qwen Code's ``--json-file``), a status file it rewrites (Claude Code's
``~/.claude/sessions/<pid>.json``). A driver names the ones its agent offers with ``session_channels(request)``;
the daemon runs each channel's :meth:`SessionChannel.follow` while the session lives (from start or adoption to
its end or the daemon's shutdown) and cancels it then.

What a channel reports goes through a :class:`ChannelSink`: ``event`` for the state detectors (the plugin's event
detector reads it like a hook event; the arbiter ranks it above screen readings), ``chat`` for the chat view's
timeline events (``user.prompt``, ``assistant.delta``, ``assistant.final``, ``thinking``, ``tool.call``,
``tool.result``, ``permission.requested``...; text is redacted and bounded by the daemon), ``conversation`` for
the agent's own conversation id (what Resume offers once the session has ended).

Whatever a launch needs to find its channel again after a daemon restart (a port) goes in
``LaunchPlan.channel``; the daemon stores it with the session and hands it back as ``ChannelRequest.launch``.
Files the agent writes for a channel go in ``LaunchRequest.state_dir`` (private to the user, per session).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from imcodes_core.states import AgentEvent


@dataclass(frozen=True, slots=True)
class ChannelRequest:
    """What a driver knows when the daemon asks for a session's channels."""

    session: str
    cwd: Path
    state_dir: Path  # the same private folder LaunchRequest.state_dir gave the launch
    launch: Mapping[str, str] = field(default_factory=dict)  # LaunchPlan.channel, as stored with the session
    pane_pid: int | None = None  # the pane's process (the agent itself when it was launched without a shell)


class ChannelSink(Protocol):
    """Where a channel reports. Every method is synchronous and cheap: call it from the channel's own task."""

    def event(self, event: AgentEvent) -> None: ...

    def chat(self, kind: str, data: Mapping[str, Any]) -> None: ...

    def conversation(self, conversation: str) -> None: ...


@runtime_checkable
class SessionChannel(Protocol):
    """One machine channel of one session. ``follow`` runs until cancelled; a channel that cannot reach its source
    waits and tries again (the agent may still be starting), and returns only when there is nothing left to
    follow (the source is gone for good). Exceptions are logged by the daemon and end that channel only."""

    name: str

    async def follow(self, sink: ChannelSink) -> None: ...


class JsonLinesTail:
    """Reads the complete lines appended to a file, from its start: a channel's follow loop calls :meth:`lines`.

    The file may not exist yet (the agent creates it when it starts). A file that shrank was rewritten: reading
    starts over. Lines longer than ``max_line`` are skipped whole, so one runaway line cannot eat the daemon's
    memory. Polling is adaptive: every ``fast`` seconds for ``linger`` seconds after something arrived (the line
    that ends a turn often comes a moment after the last streamed one), then slowing to ``slow`` while nothing
    does, so an idle agent costs a few wake-ups a second at most.
    """

    def __init__(
        self,
        path: Path,
        *,
        fast: float = 0.05,
        slow: float = 0.5,
        linger: float = 1.0,
        max_line: int = 4 << 20,
    ) -> None:
        self.path = path
        self.fast = fast
        self.slow = slow
        self.linger = linger
        self.max_line = max_line
        self.offset = 0
        self._partial = b""
        self._skipping = False
        self._delay = fast
        self.last_found = float("-inf")  # when the last line arrived, on the event loop's clock

    def read_available(self) -> list[bytes]:
        """The complete lines appended since the last call (no waiting)."""
        try:
            size = os.stat(self.path).st_size
        except OSError:
            return []
        if size < self.offset:  # truncated or replaced: start over
            self.offset, self._partial, self._skipping = 0, b"", False
        if size == self.offset:
            return []
        try:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                chunk = file.read(min(size - self.offset, 8 << 20))
        except OSError:
            return []
        self.offset += len(chunk)
        lines: list[bytes] = []
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        for line in complete:
            if self._skipping:
                self._skipping = False  # the tail of a line that was too long
                continue
            if line.strip():
                lines.append(line)
        if len(self._partial) > self.max_line:
            self._partial, self._skipping = b"", True
        return lines

    async def lines(self) -> list[bytes]:
        """Wait until at least one new complete line is there, and return them all."""
        loop = asyncio.get_running_loop()
        while True:
            found = self.read_available()
            if found:
                self.last_found = loop.time()
                self._delay = self.fast
                return found
            await asyncio.sleep(self.next_delay(loop.time()))

    def next_delay(self, now: float) -> float:
        """How long to wait before looking again, ``now`` on the event loop's clock."""
        if now - self.last_found < self.linger:
            return self.fast
        delay, self._delay = self._delay, min(self.slow, self._delay * 1.5)
        return delay
