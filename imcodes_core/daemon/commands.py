"""Server -> daemon commands: run each once, ack it, and re-ack a retried id without running it again."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from imcodes_core.daemon.registry import SessionError, SessionRegistry
from imcodes_core.protocol.frames import (
    Ack,
    Frame,
    SessionRename,
    SessionStart,
    SessionStop,
    TerminalInput,
    TerminalResize,
    TerminalSubscribe,
    TerminalUnsubscribe,
    encode_frame,
)

log = logging.getLogger(__name__)

REMEMBERED_IDS = 2000
VIEWER_KEY = "link"


class CommandHandler:
    def __init__(self, registry: SessionRegistry, *, remembered: int = REMEMBERED_IDS) -> None:
        self.registry = registry
        self.remembered = remembered
        self._acks: OrderedDict[str, str | None] = OrderedDict()  # id -> encoded ack (None while running)
        self.executed = 0  # commands actually run (retries excluded): tests and diagnostics read it

    async def handle(self, frame: Frame) -> str | None:
        """Run one command frame; returns the encoded ack to send (None for a retry still running)."""
        command_id = frame.id
        if command_id is not None and command_id in self._acks:
            self._acks.move_to_end(command_id)
            return self._acks[command_id]  # a retry: the same answer again, nothing runs twice
        if command_id is not None:
            self._acks[command_id] = None
            while len(self._acks) > self.remembered:
                self._acks.popitem(last=False)
        self.executed += 1
        try:
            result = await self._run(frame)
            ack = Ack(ref=command_id or "-", ok=True, result=result)
        except SessionError as exc:
            ack = Ack(ref=command_id or "-", ok=False, error=str(exc)[:500])
        except Exception as exc:  # a bug in one command must not take the link down
            log.exception("command %s failed", frame.type if hasattr(frame, "type") else "?")
            ack = Ack(ref=command_id or "-", ok=False, error=f"internal error: {type(exc).__name__}")
        if command_id is None:
            return None  # fire-and-forget frames get no ack
        encoded = encode_frame(ack)
        if command_id in self._acks:
            self._acks[command_id] = encoded
        return encoded

    async def _run(self, frame: Frame) -> dict[str, Any] | None:
        registry = self.registry
        if isinstance(frame, TerminalInput):
            if not registry.get(frame.session).input(frame.data):
                raise SessionError(f"session {frame.session!r} is not running")
            return None
        if isinstance(frame, TerminalResize):
            if not registry.get(frame.session).resize(frame.cols, frame.rows):
                raise SessionError(f"session {frame.session!r} is not running")
            return None
        if isinstance(frame, TerminalSubscribe):
            registry.get(frame.session).subscribe(VIEWER_KEY)
            return None
        if isinstance(frame, TerminalUnsubscribe):
            live = registry.sessions.get(frame.session)
            if live is not None:
                live.unsubscribe(VIEWER_KEY)
            return None
        if isinstance(frame, SessionStart):
            live = await registry.start(frame.driver, frame.cwd, frame.label, frame.name)
            return {"session": live.info().model_dump()}
        if isinstance(frame, SessionStop):
            await registry.stop(frame.session)
            return None
        if isinstance(frame, SessionRename):
            live = await registry.rename(frame.session, frame.label)
            return {"session": live.info().model_dump()}
        raise SessionError(f"the daemon does not handle {getattr(frame, 'type', 'this frame')!r}")
