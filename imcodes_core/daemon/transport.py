"""Transport sessions: agents the daemon drives through ACP (Agent Client Protocol) on their stdio, without tmux.

A driver of kind ``transport`` gives the command (``qwen --acp``, ``gemini --acp``); the daemon spawns it with an
:class:`~imcodes_core.acp.AcpSession`, opens an ACP session in the project folder and turns the agent's events
into timeline events (the web client's chat view renders them). The state comes from the ACP mapper, its evidence
becomes the session's ``state_reason``. Prompts, permission answers and interrupts from the phone arrive as
``session.prompt`` / ``permission.answer`` / ``session.interrupt`` and go to the agent as ACP messages; a session
has no terminal.

Conversations (docs/acp.md): when the agent offers ACP ``session/load`` (``agentCapabilities.loadSession``), its
sessionId is the session's ``conversation`` (SessionInfo, session.exited: what the web client's Resume offers);
``session.start`` with ``resume`` opens the agent with ``session/load`` instead of ``session/new``, or is refused
with the reason. Transport agents stop with the daemon, but a session with a conversation is kept in
``<home>/transports.json`` and the next daemon starts its agent again on it, same name and journal
(``session.adopted``; daemon/transport_store.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imcodes_core.acp import AcpError, AcpRpcError, AcpSession, PermissionRequest
from imcodes_core.daemon.journal import Journal
from imcodes_core.daemon.registry import SessionError
from imcodes_core.daemon.sessions import SESSION_NAME, SessionRecord, conversation_id, new_session_name
from imcodes_core.daemon.transport_store import TRANSPORTS_FILE, TransportStore, adopt_stored, show_resumed
from imcodes_core.drivers import LaunchRequest
from imcodes_core.protocol.frames import PermissionAnswer, SessionInfo, SessionInterrupt, SessionPrompt
from imcodes_core.redaction import SecretRegistry, redact
from imcodes_core.states import AgentEvent, SessionState, StateVerdict, arbitrate

if TYPE_CHECKING:
    from imcodes_core.daemon.registry import SessionRegistry
    from imcodes_core.specs import AgentDriverSpec

log = logging.getLogger(__name__)

NO_TERMINAL = "has no terminal: it is driven through ACP, use the chat view"
DELTA_SECONDS = 0.25  # streamed text is sent at most this often per session (one assistant.delta per burst)
DELTA_CHARS = 4000  # or as soon as this much is pending
MAX_TEXT = 8000  # the longest string kept in an event's data (tool output can be megabytes)
START_SECONDS = 45.0  # initialize + session/new (Qwen loads its tools first); a driver's start_seconds overrides
MAX_START_SECONDS = 600.0
STOP_GRACE = 2.0
BUSY = frozenset({SessionState.WORKING, SessionState.WAITING_PERMISSION})


class TransportSession:
    """One agent process behind ACP, seen by the daemon like a tmux session (info, timeline, commands)."""

    def __init__(self, record: SessionRecord, journal: Journal, owner: TransportSessions) -> None:
        self.record = record
        self.journal = journal
        self.owner = owner
        self.acp: AcpSession | None = None
        self.verdict: StateVerdict = arbitrate([])
        self._pending: tuple[PermissionRequest, asyncio.Future[str | None]] | None = None
        self._turn: asyncio.Task[None] | None = None
        self._delta: list[str] = []
        self._delta_id: Any = None
        self._delta_handle: asyncio.TimerHandle | None = None
        self.stopping = False

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def secrets(self) -> SecretRegistry | None:
        return self.owner.registry.secrets

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
            created_at=self.record.created_at,
            conversation=self.record.conversation or None,
        )

    def conversation(self) -> dict[str, str]:
        """For session.exited: the id a client passes as session.start's resume to continue this conversation."""
        return {"conversation": self.record.conversation} if self.record.conversation else {}

    def emit(self, kind: str, data: Mapping[str, Any] | None = None) -> None:
        event = self.journal.append(kind, _bounded(dict(data or {})))
        self.owner.registry.publisher.timeline(event)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def open(
        self, argv: list[str], env: dict[str, str], cwd: Path, resume: str = "", start_seconds: float = START_SECONDS
    ) -> list[AgentEvent]:
        """Start the agent and open its ACP session: a new one, or ``resume`` reopened with ``session/load``.

        Returns the conversation the agent replayed on load (events marked ``replayed``; empty for a new one).
        """
        acp = AcpSession.spawn(argv, cwd=cwd, env=env, name=self.name, permission_handler=self._ask)
        self.acp = acp
        for event in acp.history:  # the "starting" state, emitted as the session was made
            self._on_event(event)
        acp.add_listener(self._on_event)
        acp.connection.on_close(lambda _connection: self._exited())
        replayed: list[AgentEvent] = []
        try:
            await acp.start()
            await acp.initialize(start_seconds)
            if not resume:
                await acp.new_session(cwd, time_limit=start_seconds)
            elif not acp.can_load:
                raise SessionError(
                    f"the {self.record.driver} agent cannot reopen a conversation: its ACP initialize answer does not"
                    " offer session/load (agentCapabilities.loadSession)"
                )
            else:
                replayed = await acp.load_session(resume, cwd, time_limit=start_seconds)
        except (AcpError, SessionError) as exc:
            self.stopping = True  # the caller ends the session: the exit must not end it a second time
            await acp.close(STOP_GRACE)
            if isinstance(exc, SessionError):
                raise
            why = f"{exc}: {exc.data}" if isinstance(exc, AcpRpcError) and exc.data else str(exc)
            doing = f"could not reopen conversation {resume}" if resume else "did not start"
            raise SessionError(f"the agent {doing}: {redact(why, self.secrets)[:400]}") from None
        # the conversation is worth remembering (Resume, adoption) only when the agent can load it again
        self.record.conversation = conversation_id(acp.session_id) if acp.can_load else ""
        return replayed

    async def close(self) -> int | None:
        self.stopping = True
        self._answer(None)
        status = await self.acp.close(STOP_GRACE) if self.acp is not None else None
        if self._turn is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._turn, STOP_GRACE)
        self._flush_delta()
        return status

    def _exited(self) -> None:
        """The agent process is gone: on its own (record and forget the session) or because we stopped it."""
        if self.stopping:
            return
        asyncio.get_running_loop().call_soon(self.owner.ended, self)

    # -- events --------------------------------------------------------------------------------------------------

    def _on_event(self, event: AgentEvent) -> None:
        if event.kind == "assistant.delta":
            message_id = event.data.get("message_id")
            if self._delta and message_id != self._delta_id:
                self._flush_delta()
            self._delta.append(str(event.data.get("text", "")))
            self._delta_id = message_id
            if sum(map(len, self._delta)) >= DELTA_CHARS:
                self._flush_delta()
            elif self._delta_handle is None:
                self._delta_handle = asyncio.get_running_loop().call_later(DELTA_SECONDS, self._flush_delta)
            return
        data = dict(event.data)
        if event.kind == "state.changed" and str(data.get("state")) == str(self.verdict.state):
            self.verdict = arbitrate([self.acp.reading if self.acp is not None else None])
            return  # the same state in more detail (thinking, streaming): not worth an event, nor a split message
        self._flush_delta()  # order holds: the text streamed so far comes before what follows it
        if event.kind == "state.changed":
            self._state_changed(data)
            return
        if event.kind in ("user.prompt", "thinking", "assistant.final") and "text" in data:
            data["text"] = redact(str(data["text"]), self.secrets)
        self.emit(event.kind, data)

    def _state_changed(self, data: dict[str, Any]) -> None:
        reading = self.acp.reading if self.acp is not None else None
        self.verdict = arbitrate([reading])
        evidence = str(data.get("evidence") or "")
        self.emit(
            "state.changed",
            {
                "state": str(data.get("state")),
                "reason": redact(evidence, self.secrets)[:500],
                "detail": data.get("detail"),
                "detector": "acp",
                "source": str(data.get("source") or "structured"),
            },
        )
        self.owner.registry.publisher.session_updated(self.info())

    def _flush_delta(self) -> None:
        if self._delta_handle is not None:
            self._delta_handle.cancel()
            self._delta_handle = None
        if not self._delta:
            return
        data: dict[str, Any] = {"text": redact("".join(self._delta), self.secrets)}
        if self._delta_id is not None:
            data["message_id"] = self._delta_id
        self._delta, self._delta_id = [], None
        self.emit("assistant.delta", data)

    # -- permission questions ------------------------------------------------------------------------------------

    async def _ask(self, request: PermissionRequest) -> str | None:
        """ACP's permission callback: wait for the phone's ``permission.answer`` (or a cancel / stop)."""
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._pending = (request, future)
        try:
            return await future
        finally:
            if self._pending is not None and self._pending[1] is future:
                self._pending = None

    def _answer(self, option_id: str | None) -> None:
        if self._pending is not None and not self._pending[1].done():
            self._pending[1].set_result(option_id)

    # -- commands from the phone ---------------------------------------------------------------------------------

    async def handle(self, frame: SessionPrompt | PermissionAnswer | SessionInterrupt) -> dict[str, Any]:
        acp = self.acp
        if acp is None or acp.connection.closed:
            raise SessionError(f"session {self.name!r} is not running")
        if acp.state is SessionState.STARTING:  # e.g. reloading its conversation after a daemon restart
            raise SessionError(f"session {self.name!r} is still starting; try again in a moment")
        if isinstance(frame, SessionPrompt):
            return await self.prompt(acp, frame.text)
        if isinstance(frame, PermissionAnswer):
            return self.answer_permission(frame.choice)
        if not acp.mapper.in_turn:
            raise SessionError("the agent is not working: nothing to interrupt")
        await acp.cancel()
        return {"cancelled": True}

    async def prompt(self, acp: AcpSession, text: str) -> dict[str, Any]:
        if acp.state in BUSY or (self._turn is not None and not self._turn.done()):
            state = str(acp.state).replace("_", " ")
            raise SessionError(f"the agent is busy ({state}); wait or interrupt")
        text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
        if not text.strip():
            raise SessionError("the prompt is empty")
        self._turn = asyncio.get_running_loop().create_task(self._run_turn(acp, text))
        await asyncio.sleep(0)  # the turn task records user.prompt and writes session/prompt before it first waits
        if not acp.mapper.in_turn and self._turn.done():
            raise SessionError("the prompt could not be sent to the agent")
        return {"sent": True}

    async def _run_turn(self, acp: AcpSession, text: str) -> None:
        """The whole turn runs here (it may wait minutes for a human); its end shows as events and state."""
        try:
            stop_reason = await acp.prompt(text)
            log.info("session %s: turn ended (%s)", self.name, stop_reason)
        except AcpError as exc:
            log.info("session %s: turn failed: %s", self.name, redact(str(exc), self.secrets)[:300])

    def answer_permission(self, choice: str) -> dict[str, Any]:
        if self._pending is None or self._pending[1].done():
            raise SessionError("there is no open permission question in this session")
        request = self._pending[0]
        wanted = choice.strip()
        option = request.option(wanted) or next(
            (o for o in request.options if wanted.lower() in (o.name.lower(), o.kind.lower())), None
        )
        if option is None:
            offered = ", ".join(f"{o.id} ({o.name})" for o in request.options)
            raise SessionError(f"no choice {choice!r} in the question; it offers {offered}")
        self._answer(option.id)  # the ACP mapper records permission.answered as the agent gets the answer
        return {"option_id": option.id, "label": option.name, "kind": option.kind, "title": request.title[:500]}


class TransportSessions:
    """The daemon's transport sessions (held by the session registry, next to its tmux sessions).

    Those whose agent can reload its conversation are kept in ``<home>/transports.json`` (written on every change):
    after a daemon restart :meth:`adopt` starts their agents again on the same conversation.
    """

    def __init__(self, registry: SessionRegistry) -> None:
        self.registry = registry
        self.sessions: dict[str, TransportSession] = {}
        self.store = TransportStore(registry.config.home / TRANSPORTS_FILE)
        self._adoptions: set[asyncio.Task[None]] = set()

    def __contains__(self, name: object) -> bool:
        return name in self.sessions

    def get(self, name: str) -> TransportSession | None:
        return self.sessions.get(name)

    def infos(self) -> list[SessionInfo]:
        return [session.info() for session in self.sessions.values()]

    async def start(
        self, spec: AgentDriverSpec, cwd: str, label: str, name: str | None, taken: set[str], resume: str = ""
    ) -> TransportSession:
        folder = Path(cwd or os.path.expanduser("~")).expanduser()  # noqa: ASYNC240 - a stat, not I/O to wait on
        if not folder.is_dir():
            raise SessionError(f"folder {str(folder)!r} does not exist or is not a directory")
        taken = taken | set(self.sessions)
        if name is None:
            name = new_session_name(spec.name, taken)
        elif not SESSION_NAME.match(name):
            raise SessionError(f"invalid session name {name!r}: letters, digits, '_', '-', '@' (no '.' or ':')")
        elif name in taken:
            raise SessionError(f"a session named {name!r} already exists")
        holder = next((s.name for s in self.sessions.values() if resume and s.record.conversation == resume), None)
        if holder is not None:  # two agents on one conversation would each write their own continuation of it
            raise SessionError(f"conversation {resume} is open in session {holder!r}: use that session")
        record = SessionRecord(name, spec.name, label[:128], str(folder.resolve()))
        session = self.session(record, fallback_epoch=1)
        session.emit("session.started", {"driver": spec.name, "cwd": record.cwd, "label": record.label})
        try:
            replayed = await self.open(session, spec, resume)
        except SessionError:
            if self.sessions.get(name) is session:  # not ended already (by a stop, or the agent's exit)
                session.emit("session.exited", {"status": session.acp.connection.returncode if session.acp else None})
                self.sessions.pop(name, None)
                self.registry.publisher.session_removed(name)
            raise
        if resume:
            show_resumed(session, resume, replayed)
        self.registry.publisher.session_updated(session.info())
        self.persist()
        log.info("started transport session %s (%s) in %s", name, spec.name, record.cwd)
        return session

    def adopt(self, taken: set[str]) -> None:
        """After a daemon restart: the stored sessions come back, their agents reloading their conversations."""
        adopt_stored(self, taken)

    def track(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` (an adoption) in a task that :meth:`close` cancels."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._adoptions.add(task)
        task.add_done_callback(self._adoptions.discard)

    def session(self, record: SessionRecord, fallback_epoch: int) -> TransportSession:
        """A session and its journal, registered before its agent starts: its first events belong to it."""
        journal = Journal(self.registry.config.timeline_dir, record.name)
        if not journal.open(fallback_epoch) and fallback_epoch > 1:
            journal.epoch = fallback_epoch + 1  # the journal is lost: seq 1 must not collide with stored events
        record.epoch = journal.epoch
        session = TransportSession(record, journal, self)
        self.sessions[record.name] = session
        return session

    async def open(self, session: TransportSession, spec: AgentDriverSpec, resume: str) -> list[AgentEvent]:
        config, record = self.registry.config, session.record
        # resume_id stays unset: ACP reopens a conversation with session/load, not with a CLI argument
        request = LaunchRequest(session=record.name, cwd=Path(record.cwd), env={"IMCODES_HOME": str(config.home)})
        try:
            plan = spec.driver.launch_plan(request)
        except ValueError as exc:
            raise SessionError(str(exc)) from None
        env = {**os.environ, **self.registry.host.session_env(spec.name, record.name, plan.env)}
        # a driver whose agent starts slowly (OpenClaw may start its Gateway first) says how long it may take
        limit = getattr(spec.driver, "start_seconds", START_SECONDS)
        limit = float(limit) if isinstance(limit, int | float) and 0 < limit <= MAX_START_SECONDS else START_SECONDS
        return await session.open([str(arg) for arg in plan.argv], env, Path(plan.cwd or record.cwd), resume, limit)

    async def stop(self, name: str) -> None:
        session = self.sessions[name]
        status = await session.close()
        session.emit("session.exited", {"status": "stopped", "exit_status": status, **session.conversation()})
        self.forget(session)

    def rename(self, name: str, label: str) -> TransportSession:
        session = self.sessions[name]
        session.record.label = label[:128]
        session.emit("session.renamed", {"label": session.record.label})
        self.registry.publisher.session_updated(session.info())
        self.persist()
        return session

    def ended(self, session: TransportSession) -> None:
        """The agent exited on its own: the session ends (its last state says whether it crashed)."""
        if self.sessions.get(session.name) is not session or session.stopping:
            return
        session.stopping = True
        session._answer(None)
        session._flush_delta()
        status = session.acp.connection.returncode if session.acp is not None else None
        session.emit("session.exited", {"status": status, **session.conversation()})
        self.forget(session)

    async def close(self) -> None:
        """The daemon stops and its agents with it. Sessions with a conversation to reload stay in the store (the
        next daemon adopts them); the others end."""
        for task in list(self._adoptions):
            task.cancel()
        await asyncio.gather(*self._adoptions, return_exceptions=True)
        sessions = list(self.sessions.values())
        await asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)
        self.persist()
        for session in sessions:
            if not session.record.conversation:
                session.emit("session.exited", {"status": "daemon stopped"})
        self.sessions.clear()

    def forget(self, session: TransportSession) -> None:
        self.sessions.pop(session.name, None)
        self.registry.publisher.session_removed(session.name)
        self.persist()

    def persist(self) -> None:
        self.store.save([s.record for s in self.sessions.values() if s.record.conversation])


def _bounded(value: Any) -> Any:
    """The event data with every long string cut (timeline data stays small JSON)."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if isinstance(value, Mapping):
        return {str(k): _bounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_bounded(v) for v in value]
    return value
