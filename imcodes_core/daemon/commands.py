"""Server -> daemon commands: run each once, ack it, and re-ack a retried id without running it again."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from imcodes_core.daemon.agent_io import AgentIO
from imcodes_core.daemon.live import LiveSession
from imcodes_core.daemon.registry import SessionError, SessionRegistry
from imcodes_core.daemon.tmux import TmuxError
from imcodes_core.drivers import DriverKind
from imcodes_core.protocol.frames import (
    Ack,
    Frame,
    PermissionAnswer,
    SessionInterrupt,
    SessionPrompt,
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
        self._prompting: set[str] = set()  # sessions a prompt is being delivered to (one at a time)
        self._background: set[asyncio.Task[None]] = set()
        self._asked: set[str] = set()  # sessions whose current permission question was announced
        registry.update_listeners.append(self._session_updated)

    def _session_updated(self, live: LiveSession) -> None:
        """When a session starts waiting for permission, read the question off its screen for the chat view."""
        if str(live.verdict.state) != "waiting_permission":
            self._asked.discard(live.name)
            return
        if live.name in self._asked:
            return
        self._asked.add(live.name)
        try:
            driver = self.registry.host.agent_driver(live.record.driver).driver
        except (KeyError, ValueError):
            return
        self._spawn(AgentIO(live, driver).announce_permission())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _deliver(self) -> Callable[[str], None] | None:
        """How to send a late ack: the server link (the registry's publisher) when there is one."""
        send = getattr(self.registry.publisher, "send", None)
        return send if callable(send) else None

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
        deliver = self._deliver()
        if command_id is not None and deliver is not None and self._slow(frame):
            # verifying a prompt takes up to seconds, an ACP agent's start tens of seconds: the link keeps reading
            # (input, pings; a link that reads nothing for long is declared stale and the ack would be lost)
            self._spawn(self._late(frame, deliver))
            return None
        return await self._execute(frame)

    def _slow(self, frame: Frame) -> bool:
        if isinstance(frame, SessionPrompt):
            return True
        if isinstance(frame, SessionStart):  # a tmux start takes milliseconds and stays in order with what follows
            try:
                return self.registry.host.agent_driver(frame.driver).kind is DriverKind.TRANSPORT
            except (KeyError, ValueError):
                return False  # refused when it runs, in order
        return False

    async def _late(self, frame: Frame, deliver: Callable[[str], None]) -> None:
        answer = await self._execute(frame)
        if answer is not None:
            deliver(answer)

    async def _execute(self, frame: Frame) -> str | None:
        command_id = frame.id
        try:
            result = await self._run(frame)
            ack = Ack(ref=command_id or "-", ok=True, result=result)
        except SessionError as exc:
            ack = Ack(ref=command_id or "-", ok=False, error=str(exc)[:500])
        except TmuxError as exc:  # the pane went away under us
            ack = Ack(ref=command_id or "-", ok=False, error=f"tmux: {str(exc)[:300]}")
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
        if isinstance(frame, SessionPrompt | PermissionAnswer | SessionInterrupt):
            return await self._agent_io(frame)
        if isinstance(frame, SessionStart):
            started = await registry.start(frame.driver, frame.cwd, frame.label, frame.name, resume=frame.resume)
            return {"session": started.info().model_dump()}
        if isinstance(frame, SessionStop):
            await registry.stop(frame.session)
            return None
        if isinstance(frame, SessionRename):
            started = await registry.rename(frame.session, frame.label)
            return {"session": started.info().model_dump()}
        raise SessionError(f"the daemon does not handle {getattr(frame, 'type', 'this frame')!r}")

    async def _agent_io(self, frame: SessionPrompt | PermissionAnswer | SessionInterrupt) -> dict[str, Any]:
        transport = self.registry.transports.get(frame.session)
        if transport is not None:  # an ACP agent: prompts, answers and cancels are protocol messages
            return await transport.handle(frame)
        live = self.registry.get(frame.session)
        try:
            driver = self.registry.host.agent_driver(live.record.driver).driver
        except (KeyError, ValueError):
            raise SessionError(f"the driver {live.record.driver!r} of this session is not loaded") from None
        agent = AgentIO(live, driver)
        if isinstance(frame, SessionInterrupt):
            return await agent.interrupt()
        if isinstance(frame, PermissionAnswer):
            return await agent.answer_permission(frame.choice)
        if frame.session in self._prompting:
            raise SessionError("a prompt is still being delivered to this session; wait a moment")
        self._prompting.add(frame.session)
        try:
            return await agent.submit_prompt(frame.text)
        finally:
            self._prompting.discard(frame.session)
