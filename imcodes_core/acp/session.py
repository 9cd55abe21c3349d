"""Drive one ACP agent session headless: initialize, open a session, prompt, cancel; events and state as it goes.

::

    session = AcpSession.spawn(["gemini", "--acp"], cwd=project, env=env, permission_handler=ask_the_phone)
    await session.start()
    await session.initialize()
    await session.new_session(project)                        # or load_session(earlier_id, project) if can_load
    stop_reason = await session.prompt("fix the failing test")   # events stream meanwhile
    async for event in session.events(): ...                      # AgentEvent(kind, at, data)
    await session.close()

Permission requests go to ``permission_handler(request) -> option id | None`` and are answered within the agent's
own request, so the agent waits for the human. ``None`` (or a cancelled turn) answers ``cancelled``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from imcodes_core.acp.connection import INVALID_PARAMS, AcpConnection, AcpError, AcpRpcError
from imcodes_core.acp.events import AcpEventMapper, PermissionRequest, replayed_conversation
from imcodes_core.acp.files import ProjectFiles
from imcodes_core.states import AgentEvent, SessionState, StateReading

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
HISTORY_LIMIT = 10_000
PermissionHandler = Callable[[PermissionRequest], Awaitable[str | None]]
EventListener = Callable[[AgentEvent], None]
_END = object()


class AcpSession:
    """One ACP session on one agent process. Create with :meth:`spawn` (or around an :class:`AcpConnection`)."""

    def __init__(
        self,
        connection: AcpConnection,
        *,
        permission_handler: PermissionHandler | None = None,
        permission_timeout: float | None = None,
        allow_file_access: bool = True,
        client_name: str = "imcodes",
        client_version: str = "0",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connection = connection
        self.permission_handler = permission_handler
        self.permission_timeout = permission_timeout
        self.allow_file_access = allow_file_access
        self.client_info = {"name": client_name, "version": client_version}
        self.clock = clock
        self.mapper = AcpEventMapper()
        self.session_id: str | None = None
        self.agent_info: Mapping[str, Any] = {}
        self.agent_capabilities: Mapping[str, Any] = {}
        self.files: ProjectFiles | None = None
        self.history: deque[AgentEvent] = deque(maxlen=HISTORY_LIMIT)  # the latest events, in order
        self._queue: asyncio.Queue[AgentEvent | object] = asyncio.Queue()
        self._listeners: list[EventListener] = []
        self._permission_tasks: set[asyncio.Task[str | None]] = set()
        self._turn_lock = asyncio.Lock()
        self._replay: AcpEventMapper | None = None  # set while session/load replays the conversation
        self._replayed: list[AgentEvent] = []
        connection.on_notification(self._on_notification)
        connection.on_close(self._on_close)
        connection.on_request("session/request_permission", self._on_permission)
        connection.on_request("fs/read_text_file", self._on_read)
        connection.on_request("fs/write_text_file", self._on_write)
        self._emit([AgentEvent("state.changed", clock(), _state_data(self.mapper.reading))])

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        request_timeout: float = 60.0,
        name: str = "acp-agent",
        **options: Any,
    ) -> AcpSession:
        """A session on a new agent process (started by :meth:`start`)."""
        connection = AcpConnection(argv, cwd=cwd, env=env, request_timeout=request_timeout, name=name)
        return cls(connection, **options)

    # -- state and events -------------------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self.mapper.state

    @property
    def reading(self) -> StateReading:
        """The current state with its evidence, for the arbiter."""
        return self.mapper.reading

    def add_listener(self, listener: EventListener) -> None:
        """Called synchronously with every event as it is emitted (keep it cheap)."""
        self._listeners.append(listener)

    async def events(self) -> AsyncIterator[AgentEvent]:
        """Every event from the start, in order; ends once the agent process is gone. One consumer only."""
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            assert isinstance(item, AgentEvent)
            yield item

    def _emit(self, events: Sequence[AgentEvent]) -> None:
        for event in events:
            self.history.append(event)
            self._queue.put_nowait(event)
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("an ACP event listener failed on %s", event.kind)

    # -- requests to the agent --------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.connection.start()

    async def initialize(self, time_limit: float | None = None) -> Mapping[str, Any]:
        """Negotiate the protocol; returns the agent's answer (``agentInfo``, ``agentCapabilities``, ...)."""
        capabilities = {
            "fs": {"readTextFile": self.allow_file_access, "writeTextFile": self.allow_file_access},
            "terminal": False,
        }
        params = {"protocolVersion": PROTOCOL_VERSION, "clientCapabilities": capabilities}
        result = await self.connection.request("initialize", {**params, "clientInfo": self.client_info}, time_limit)
        result = result if isinstance(result, Mapping) else {}
        self.agent_info = result.get("agentInfo") or {}
        self.agent_capabilities = result.get("agentCapabilities") or {}
        return result

    async def new_session(
        self, cwd: Path, mcp_servers: Sequence[Mapping[str, Any]] = (), time_limit: float | None = None
    ) -> str:
        """Open a session whose project folder is ``cwd`` (file access is confined to it); its id."""
        cwd = await asyncio.to_thread(cwd.resolve)
        params = {"cwd": str(cwd), "mcpServers": list(mcp_servers)}
        result = await self.connection.request("session/new", params, time_limit)
        session_id = result.get("sessionId") if isinstance(result, Mapping) else None
        if not isinstance(session_id, str) or not session_id:
            raise AcpError(f"{self.connection.name}: session/new answered without a sessionId")
        self.session_id, self.files = session_id, await asyncio.to_thread(ProjectFiles, cwd)
        self._emit(self.mapper.ready(self.clock(), f"session/new answered: session {session_id}"))
        return session_id

    @property
    def can_load(self) -> bool:
        """The agent's initialize answer offers ``session/load`` (``agentCapabilities.loadSession``)."""
        return bool(self.agent_capabilities.get("loadSession"))

    async def load_session(
        self,
        session_id: str,
        cwd: Path,
        mcp_servers: Sequence[Mapping[str, Any]] = (),
        time_limit: float | None = None,
    ) -> list[AgentEvent]:
        """Reopen the earlier session ``session_id`` (ACP ``session/load``); the conversation the agent replayed.

        The agent streams the conversation so far as ``session/update`` notifications before it answers. They
        are not emitted as this session's events (they happened before it): they are mapped by a mapper of their
        own, coalesced (one ``user.prompt`` per user message, one ``assistant.final`` per answer) and returned,
        each marked ``replayed: true``, for the caller to show or skip. Raises :class:`AcpError` when the agent
        does not offer ``session/load`` or refuses this id.
        """
        if not self.can_load:
            raise AcpError(f"{self.connection.name}: the agent does not offer session/load (no loadSession)")
        cwd = await asyncio.to_thread(cwd.resolve)
        params = {"sessionId": session_id, "cwd": str(cwd), "mcpServers": list(mcp_servers)}
        self.session_id, self._replay, self._replayed = session_id, AcpEventMapper(), []
        try:
            await self.connection.request("session/load", params, time_limit)
        except AcpError:
            self.session_id = None
            raise
        finally:
            self._replay, replayed, self._replayed = None, self._replayed, []
        self.files = await asyncio.to_thread(ProjectFiles, cwd)
        self._emit(self.mapper.ready(self.clock(), f"session/load answered: session {session_id}"))
        return replayed_conversation(replayed)

    async def prompt(self, text: str, time_limit: float = 0) -> str:
        """Send one prompt and wait for the turn to end; the stop reason (``end_turn``, ``cancelled``, ...).

        ``time_limit`` bounds the whole turn (``0``, the default, waits as long as the agent and the human take).
        """
        session_id = self._require_session()
        async with self._turn_lock:
            self._emit(self.mapper.prompt_sent(self.clock(), text))
            params = {"sessionId": session_id, "prompt": [{"type": "text", "text": text}]}
            try:
                result = await self.connection.request("session/prompt", params, time_limit)
            except AcpRpcError as exc:
                self._emit(self.mapper.turn_failed(self.clock(), exc.message))
                raise
            except AcpError as exc:
                if self.mapper.in_turn and not self.connection.closed:  # a timeout: the turn is still running
                    with contextlib.suppress(AcpError):
                        await self.cancel()
                    self._emit(self.mapper.turn_failed(self.clock(), f"{exc}; session/cancel sent"))
                raise
            stop_reason = result.get("stopReason") if isinstance(result, Mapping) else None
            stop_reason = str(stop_reason or "end_turn")
            self._emit(self.mapper.turn_ended(self.clock(), stop_reason))
            return stop_reason

    async def cancel(self) -> None:
        """Ask the agent to stop the current turn; open permission questions are answered ``cancelled``.

        The turn's :meth:`prompt` then returns the agent's stop reason (``cancelled``).
        """
        session_id = self._require_session()
        for task in list(self._permission_tasks):
            task.cancel()
        await self.connection.notify("session/cancel", {"sessionId": session_id})

    async def close(self, grace: float = 3.0) -> int | None:
        """Stop the agent process; its exit status."""
        for task in list(self._permission_tasks):
            task.cancel()
        return await self.connection.close(grace)

    def _require_session(self) -> str:
        if self.session_id is None:
            raise AcpError("no session: call new_session() first")
        return self.session_id

    # -- from the agent -----------------------------------------------------------------------------------------

    def _on_notification(self, method: str, params: Mapping[str, Any]) -> None:
        if method != "session/update":
            log.debug("%s: ignored the notification %s", self.connection.name, method)
            return
        if self.session_id is not None and params.get("sessionId") not in (None, self.session_id):
            return  # another session on the same agent process
        if self._replay is not None:  # the history session/load replays: collected, see load_session
            self._replayed += self._replay.session_update(self.clock(), params)
            return
        self._emit(self.mapper.session_update(self.clock(), params))

    def _on_close(self, connection: AcpConnection) -> None:
        events = self.mapper.exited(self.clock(), connection.returncode, connection.closing, connection.stderr_tail())
        self._emit(events)
        self._queue.put_nowait(_END)

    async def _on_permission(self, params: Mapping[str, Any]) -> dict[str, Any]:
        request = PermissionRequest.from_params(params)
        request_id = f"{request.tool_call_id or 'tool'}@{self.clock():.6f}"
        self._emit(self.mapper.permission_requested(self.clock(), request_id, request))
        option_id: str | None = None
        task: asyncio.Task[str | None] | None = None
        if self.permission_handler is not None:
            task = asyncio.ensure_future(self._ask(request))
            self._permission_tasks.add(task)
            try:
                option_id = await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise  # we ourselves are being cancelled (shutdown), not just the question
                option_id = None
            except Exception:
                log.exception("%s: the permission handler failed; answering cancelled", self.connection.name)
                option_id = None
            finally:
                self._permission_tasks.discard(task)
        if option_id is not None and request.option(option_id) is None:
            log.warning("%s: the permission handler chose an option the agent did not offer", self.connection.name)
            option_id = None
        self._emit(self.mapper.permission_answered(self.clock(), request_id, request, option_id))
        if option_id is None:
            return {"outcome": {"outcome": "cancelled"}}
        return {"outcome": {"outcome": "selected", "optionId": option_id}}

    async def _ask(self, request: PermissionRequest) -> str | None:
        assert self.permission_handler is not None
        if self.permission_timeout is None:
            return await self.permission_handler(request)
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.permission_handler(request), self.permission_timeout)
        return None

    def _files_for(self, params: Mapping[str, Any]) -> ProjectFiles:
        if not self.allow_file_access or self.files is None:
            raise AcpRpcError(INVALID_PARAMS, "file access is not offered by this client")
        if params.get("sessionId") != self.session_id:
            raise AcpRpcError(INVALID_PARAMS, "unknown sessionId")
        return self.files

    async def _on_read(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(self._files_for(params).read_text_file, params)

    async def _on_write(self, params: Mapping[str, Any]) -> None:
        await asyncio.to_thread(self._files_for(params).write_text_file, params)


def _state_data(reading: StateReading) -> dict[str, Any]:
    detail = str(reading.detail) if reading.detail else None
    return {"state": str(reading.state), "detail": detail, "evidence": reading.evidence, "source": "structured"}
