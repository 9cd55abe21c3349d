"""Following the session channels drivers name (imcodes_core/channels.py) for the daemon's tmux sessions.

One task per channel per session, started when the session is started, adopted or restarted, cancelled when it
ends, is stopped or the daemon shuts down. A channel that raises is logged and ends alone: the session keeps its
other channels, its hooks and its screen. What a channel reports reaches the session as a hook event would:
``event`` goes to the detectors, ``chat`` becomes a timeline event (text redacted and bounded here, so a plugin
cannot flood the journal or leak a key into it), ``conversation`` becomes the session's resumable conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from imcodes_core.channels import ChannelRequest, SessionChannel
from imcodes_core.daemon.live import LiveSession
from imcodes_core.daemon.sessions import conversation_id
from imcodes_core.redaction import redact
from imcodes_core.states import AgentEvent

log = logging.getLogger(__name__)

TEXT_LIMIT = 8000  # prompt and answer text kept in the timeline (as for hook events)
FIELD_LIMIT = 2000  # any other string field
MAX_FIELDS = 32
CHAT_KINDS = frozenset(
    {
        "user.prompt",
        "assistant.delta",
        "assistant.final",
        "thinking",
        "tool.call",
        "tool.result",
        "permission.requested",
        "permission.answered",
    }
)


class LiveChannelSink:
    """A :class:`~imcodes_core.channels.ChannelSink` for one live session."""

    def __init__(self, live: LiveSession, channel: str) -> None:
        self.live = live
        self.channel = channel
        self.events = 0  # reports taken: tests and diagnostics read it

    def event(self, event: AgentEvent) -> None:
        self.events += 1
        self.live.machine_event(event)

    def chat(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind not in CHAT_KINDS:
            log.info("channel %s of %s reported unknown chat event %r: dropped", self.channel, self.live.name, kind)
            return
        self.events += 1
        bounded = {str(key)[:64]: self._bounded(key, value) for key, value in list(data.items())[:MAX_FIELDS]}
        bounded.setdefault("via", self.channel)
        self.live.emit(kind, bounded)

    def conversation(self, conversation: str) -> None:
        found = conversation_id(conversation)
        if found and found != self.live.record.conversation:
            self.live.record.conversation = found
            self.live.sink.updated(self.live)

    def _bounded(self, key: object, value: object) -> Any:
        if isinstance(value, bool | int | float) or value is None:
            return value
        limit = TEXT_LIMIT if key in ("text", "message", "question") else FIELD_LIMIT
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")  # storable: no NUL, surrogate
        return redact(text, self.live.secrets)[:limit]


class ChannelFollowers:
    """The channel tasks of every tmux session, by session name."""

    def __init__(self, state_root: Path) -> None:
        self.state_root = state_root
        self.tasks: dict[str, list[asyncio.Task[None]]] = {}
        self.sinks: dict[str, list[LiveChannelSink]] = {}

    def state_dir(self, session: str) -> Path:
        """The session's private folder for channel files (created 0700 under a 0700 parent)."""
        path = self.state_root / session
        self.state_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.mkdir(exist_ok=True, mode=0o700)
        return path

    async def follow(self, live: LiveSession, driver: object, pane_pid: int | None) -> None:
        """(Re)start following ``live``'s channels, as its driver names them now."""
        await self.stop(live.name)
        make = getattr(driver, "session_channels", None)
        if not callable(make):
            return
        request = ChannelRequest(
            session=live.name,
            cwd=Path(live.record.cwd),
            state_dir=self.state_dir(live.name),
            launch=dict(live.record.channel),
            pane_pid=pane_pid,
        )
        try:
            channels: Sequence[SessionChannel] = tuple(make(request))
        except Exception:  # a broken plugin must not stop the session from running
            log.exception("driver %s could not name the channels of %s", live.record.driver, live.name)
            return
        loop = asyncio.get_running_loop()
        for channel in channels:
            name = str(getattr(channel, "name", type(channel).__name__))[:64]
            sink = LiveChannelSink(live, name)
            task = loop.create_task(self._run(live.name, name, channel, sink), name=f"channel {name} {live.name}")
            self.tasks.setdefault(live.name, []).append(task)
            self.sinks.setdefault(live.name, []).append(sink)

    def discard(self, session: str) -> None:
        """The session has ended for good: its private folder goes (hook settings, event files)."""
        shutil.rmtree(self.state_root / session, ignore_errors=True)

    def sweep(self, keep: set[str]) -> None:
        """Remove the folders of sessions that ended while no daemon watched them."""
        with contextlib.suppress(OSError):
            for entry in self.state_root.iterdir():
                if entry.name not in keep and entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)

    async def stop(self, session: str) -> None:
        tasks = self.tasks.pop(session, [])
        self.sinks.pop(session, None)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        for session in list(self.tasks):
            await self.stop(session)

    @staticmethod
    async def _run(session: str, name: str, channel: SessionChannel, sink: LiveChannelSink) -> None:
        try:
            await channel.follow(sink)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("channel %s of session %s failed; the session goes on without it", name, session)
        else:
            log.info("channel %s of session %s ended", name, session)


async def pane_pid(tmux: Any, session: str) -> int | None:
    """The pid of the session's (first) pane process, or None."""
    with contextlib.suppress(Exception):
        text = await tmux.run("display-message", "-p", "-t", f"={session}:", "#{pane_pid}")
        return int(str(text).strip())
    return None
