"""From ACP messages to imcodes timeline events and session states.

:class:`AcpEventMapper` is pure (no I/O, the time is passed in): it turns each ``session/update``, permission
request and answer, prompt start and end, and process exit into :class:`~imcodes_core.states.AgentEvent` records
with the kinds of the imcodes timeline, and tracks the session's state with the evidence for it. Every state change
is itself an event (``state.changed``), so the timeline says why a session is shown as it is.

Timeline kinds: ``user.prompt``, ``user.delta``, ``assistant.delta``, ``assistant.final``, ``thinking``,
``tool.call``, ``tool.update``, ``tool.result``, ``plan``, ``permission.requested``, ``permission.answered``,
``commands.available``, ``mode.changed``, ``session.info``, ``turn.ended``, ``state.changed``, ``error`` and
``acp.update`` (a ``sessionUpdate`` kind this mapper does not know, kept rather than dropped).

:func:`replayed_conversation` turns the history an agent replays in ``session/load`` into chat events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imcodes_core.states import AgentEvent, SessionState, SignalSource, StateReading, WorkDetail

DETECTOR = "acp"
FINISHED_TOOL_STATUSES = frozenset({"completed", "failed"})


@dataclass(frozen=True, slots=True)
class PermissionOption:
    id: str
    name: str
    kind: str  # allow_once | allow_always | reject_once | reject_always


@dataclass(frozen=True, slots=True)
class PermissionRequest:
    """What the agent asks the human (through the phone): the tool call in question and the choices."""

    session_id: str
    tool_call_id: str
    title: str  # the question, as the agent words it (usually the command or the file edit)
    tool_kind: str  # read | edit | delete | move | search | execute | think | fetch | other
    options: tuple[PermissionOption, ...]
    details: str = ""  # the tool call's text content (descriptions, diffs' paths), for context
    raw_input: Mapping[str, Any] | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PermissionRequest:
        tool = _mapping(params.get("toolCall"))
        options = tuple(
            PermissionOption(str(o.get("optionId", "")), str(o.get("name", "")), str(o.get("kind", "")))
            for o in params.get("options") or ()
            if isinstance(o, Mapping) and o.get("optionId")
        )
        raw_input = tool.get("rawInput")
        return cls(
            session_id=str(params.get("sessionId", "")),
            tool_call_id=str(tool.get("toolCallId", "")),
            title=str(tool.get("title") or ""),
            tool_kind=str(tool.get("kind") or "other"),
            options=options,
            details=tool_content_text(tool.get("content")),
            raw_input=raw_input if isinstance(raw_input, Mapping) else None,
        )

    def option(self, option_id: str) -> PermissionOption | None:
        return next((o for o in self.options if o.id == option_id), None)

    def first_option(self, *kinds: str) -> PermissionOption | None:
        """The first option of the first kind in ``kinds`` that is offered (e.g. ``allow_once``)."""
        for kind in kinds:
            for option in self.options:
                if option.kind == kind:
                    return option
        return None

    def to_data(self) -> dict[str, Any]:
        return {
            "tool_call_id": self.tool_call_id,
            "title": self.title,
            "tool_kind": self.tool_kind,
            "details": self.details,
            "options": [{"id": o.id, "name": o.name, "kind": o.kind} for o in self.options],
        }


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def content_text(block: Any) -> str:
    """The text of one ACP content block (text, or a resource's text); a placeholder for other kinds."""
    block = _mapping(block)
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text") or "")
    if kind == "resource":
        return str(_mapping(block.get("resource")).get("text") or "")
    if kind == "resource_link":
        return f"[{block.get('name') or block.get('uri') or 'resource'}]"
    if kind in ("image", "audio"):
        return f"[{kind}]"
    return ""


def tool_content_text(content: Any) -> str:
    """The readable text of a tool call's content list: text blocks, diffs (by path), terminals (by id)."""
    parts: list[str] = []
    for item in content if isinstance(content, Sequence) and not isinstance(content, str) else ():
        item = _mapping(item)
        kind = item.get("type")
        if kind == "content":
            parts.append(content_text(item.get("content")))
        elif kind == "diff":
            parts.append(f"diff {item.get('path', '')}")
        elif kind == "terminal":
            parts.append(f"terminal {item.get('terminalId', '')}")
    return "\n".join(p for p in parts if p)


class AcpEventMapper:
    """One session's mapper: feed it what happens, collect the events it returns, read :attr:`reading`."""

    def __init__(self) -> None:
        self.reading = StateReading(SessionState.STARTING, 0.9, "agent process starting", DETECTOR, _STRUCTURED)
        self._assistant: list[str] = []
        self._tool_titles: dict[str, str] = {}
        self._open_permissions = 0
        self._in_turn = False

    @property
    def state(self) -> SessionState:
        return self.reading.state

    @property
    def in_turn(self) -> bool:
        return self._in_turn

    # -- state ----------------------------------------------------------------------------------------------------

    def _set_state(
        self,
        at: float,
        state: SessionState,
        evidence: str,
        detail: WorkDetail | None = None,
        source: SignalSource = SignalSource.STRUCTURED,
    ) -> list[AgentEvent]:
        if state is not SessionState.WORKING:
            detail = None
        if self.reading.state is state and self.reading.detail is detail:
            return []
        self.reading = StateReading(state, 0.95, evidence, DETECTOR, source, detail)
        data = {"state": str(state), "detail": str(detail) if detail else None, "evidence": evidence}
        return [AgentEvent("state.changed", at, {**data, "source": source.name.lower()})]

    def _working(self, at: float, detail: WorkDetail, evidence: str) -> list[AgentEvent]:
        if self._open_permissions or not self._in_turn:
            return []  # an update while a question is open (or after the turn) must not hide the question
        return self._set_state(at, SessionState.WORKING, evidence, detail)

    def ready(self, at: float, evidence: str = "session/new answered") -> list[AgentEvent]:
        return self._set_state(at, SessionState.IDLE, evidence)

    def prompt_sent(self, at: float, text: str) -> list[AgentEvent]:
        self._assistant.clear()
        self._in_turn = True
        events = [AgentEvent("user.prompt", at, {"text": text})]
        return events + self._set_state(at, SessionState.WORKING, "session/prompt sent", WorkDetail.THINKING)

    def turn_ended(self, at: float, stop_reason: str) -> list[AgentEvent]:
        self._in_turn = False
        self._open_permissions = 0
        events: list[AgentEvent] = []
        text = "".join(self._assistant)
        self._assistant.clear()
        if text:
            events.append(AgentEvent("assistant.final", at, {"text": text, "stop_reason": stop_reason}))
        events.append(AgentEvent("turn.ended", at, {"stop_reason": stop_reason}))
        return events + self._set_state(at, SessionState.IDLE, f"session/prompt answered: stopReason {stop_reason}")

    def turn_failed(self, at: float, message: str) -> list[AgentEvent]:
        self._in_turn = False
        self._open_permissions = 0
        self._assistant.clear()
        events = [AgentEvent("error", at, {"message": message})]
        return events + self._set_state(at, SessionState.ERROR, f"session/prompt failed: {message}")

    def exited(self, at: float, status: int | None, expected: bool, stderr_tail: str = "") -> list[AgentEvent]:
        """The agent process ended; a crash (unexpected, or mid-turn with a failure status) is an error."""
        crashed = not expected and (self._in_turn or status not in (0, None))
        self._in_turn = False
        self._open_permissions = 0
        evidence = f"agent process exited with status {status}" + (" mid-turn" if crashed and status == 0 else "")
        if crashed:
            tail = stderr_tail.strip().splitlines()[-1:] if stderr_tail.strip() else []
            message = evidence + (f": {tail[0]}" if tail else "")
            return [
                AgentEvent("error", at, {"message": message}),
                *self._set_state(at, SessionState.ERROR, message, source=SignalSource.PROCESS),
            ]
        return self._set_state(at, SessionState.EXITED, evidence, source=SignalSource.PROCESS)

    # -- permissions ----------------------------------------------------------------------------------------------

    def permission_requested(self, at: float, request_id: Any, request: PermissionRequest) -> list[AgentEvent]:
        self._open_permissions += 1
        events = [AgentEvent("permission.requested", at, {"request_id": request_id, **request.to_data()})]
        evidence = f"session/request_permission: {request.title or request.tool_kind}"
        return events + self._set_state(at, SessionState.WAITING_PERMISSION, evidence)

    def permission_answered(
        self, at: float, request_id: Any, request: PermissionRequest, option_id: str | None
    ) -> list[AgentEvent]:
        self._open_permissions = max(0, self._open_permissions - 1)
        option = request.option(option_id) if option_id is not None else None
        data = {
            "request_id": request_id,
            "tool_call_id": request.tool_call_id,
            "outcome": "selected" if option is not None else "cancelled",
            "option_id": option.id if option else None,
            "option_kind": option.kind if option else None,
        }
        events = [AgentEvent("permission.answered", at, data)]
        if self._open_permissions or not self._in_turn:
            return events
        allowed = option is not None and option.kind.startswith("allow")
        detail = WorkDetail.TOOL_RUNNING if allowed else WorkDetail.THINKING
        evidence = f"permission answered: {option.kind if option else 'cancelled'}"
        return events + self._set_state(at, SessionState.WORKING, evidence, detail)

    # -- session/update -------------------------------------------------------------------------------------------

    def session_update(self, at: float, params: Mapping[str, Any]) -> list[AgentEvent]:
        """Map one ``session/update`` notification's params (``{"sessionId", "update"}``)."""
        update = _mapping(params.get("update"))
        kind = str(update.get("sessionUpdate", ""))
        handler = _UPDATE_HANDLERS.get(kind)
        if handler is None:
            return [AgentEvent("acp.update", at, {"session_update": kind})]
        return handler(self, at, update)

    def _message_chunk(self, at: float, update: Mapping[str, Any]) -> list[AgentEvent]:
        text = content_text(update.get("content"))
        if not text:
            return []  # some agents send empty chunks carrying only usage metadata
        self._assistant.append(text)
        data: dict[str, Any] = {"text": text}
        if update.get("messageId"):
            data["message_id"] = str(update["messageId"])
        events = [AgentEvent("assistant.delta", at, data)]
        return events + self._working(at, WorkDetail.STREAMING, "agent_message_chunk")

    def _thought_chunk(self, at: float, update: Mapping[str, Any]) -> list[AgentEvent]:
        text = content_text(update.get("content"))
        if not text:
            return []
        return [
            AgentEvent("thinking", at, {"text": text}),
            *self._working(at, WorkDetail.THINKING, "agent_thought_chunk"),
        ]

    def _user_chunk(self, at: float, update: Mapping[str, Any]) -> list[AgentEvent]:
        text = content_text(update.get("content"))
        return [AgentEvent("user.delta", at, {"text": text})] if text else []

    def _tool_call(self, at: float, update: Mapping[str, Any]) -> list[AgentEvent]:
        tool_id = str(update.get("toolCallId", ""))
        title = str(update.get("title") or "")
        self._tool_titles[tool_id] = title
        data = {
            "tool_call_id": tool_id,
            "title": title,
            "tool_kind": str(update.get("kind") or "other"),
            "status": str(update.get("status") or "pending"),
            "input": update.get("rawInput") if isinstance(update.get("rawInput"), Mapping) else None,
            "locations": [str(_mapping(loc).get("path", "")) for loc in update.get("locations") or ()],
        }
        events = [AgentEvent("tool.call", at, data)]
        if data["status"] in FINISHED_TOOL_STATUSES:
            events += self._tool_update(at, update)
            return events
        return events + self._working(at, WorkDetail.TOOL_RUNNING, f"tool_call {title or tool_id}")

    def _tool_update(self, at: float, update: Mapping[str, Any]) -> list[AgentEvent]:
        tool_id = str(update.get("toolCallId", ""))
        if update.get("title"):
            self._tool_titles[tool_id] = str(update["title"])
        title = self._tool_titles.get(tool_id, "")
        status = str(update.get("status") or "")
        output = tool_content_text(update.get("content"))
        data: dict[str, Any] = {"tool_call_id": tool_id, "title": title, "status": status}
        if status in FINISHED_TOOL_STATUSES:
            return [
                AgentEvent("tool.result", at, {**data, "output": output, "ok": status == "completed"}),
                *self._working(at, WorkDetail.THINKING, f"tool_call_update {status}: {title or tool_id}"),
            ]
        if output:
            data["output"] = output
        events = [AgentEvent("tool.update", at, data)]
        if status == "in_progress":
            events += self._working(at, WorkDetail.TOOL_RUNNING, f"tool_call_update in_progress: {title or tool_id}")
        return events

    def _plan(self, at: float, update: Mapping[str, Any]) -> list[AgentEvent]:
        entries = [
            {"content": str(e.get("content", "")), "status": str(e.get("status", "")), "priority": e.get("priority")}
            for e in (_mapping(x) for x in update.get("entries") or ())
        ]
        return [AgentEvent("plan", at, {"entries": entries})]

    def _commands(self, at: float, update: Mapping[str, Any]) -> list[AgentEvent]:
        names = [str(_mapping(c).get("name", "")) for c in update.get("availableCommands") or ()]
        return [AgentEvent("commands.available", at, {"names": names})]

    def _mode(self, at: float, update: Mapping[str, Any]) -> list[AgentEvent]:
        return [AgentEvent("mode.changed", at, {"mode": str(update.get("currentModeId", ""))})]

    def _info(self, at: float, update: Mapping[str, Any]) -> list[AgentEvent]:
        kind = str(update.get("sessionUpdate", ""))
        fields = {k: v for k, v in update.items() if k not in ("sessionUpdate", "_meta")}
        return [AgentEvent("session.info", at, {"session_update": kind, **fields})]


# streamed pieces of one message in a replay, and the event the whole message becomes
_REPLAY_MESSAGES = {"user.delta": "user.prompt", "assistant.delta": "assistant.final", "thinking": "thinking"}


def replayed_conversation(events: Sequence[AgentEvent]) -> list[AgentEvent]:
    """The events a mapper made of a ``session/load`` replay, as a conversation: the chunks of each message joined
    into one ``user.prompt`` / ``assistant.final`` / ``thinking``, state changes left out (the replay is the past,
    not what the agent does now), every event's data marked ``replayed: true``."""
    conversation: list[AgentEvent] = []
    message: tuple[str, Any] | None = None  # (kind, message id) of the message being joined
    for event in events:
        if event.kind == "state.changed":
            continue
        target = _REPLAY_MESSAGES.get(event.kind)
        if target is None:
            message = None
            conversation.append(AgentEvent(event.kind, event.at, {**event.data, "replayed": True}))
            continue
        key = (event.kind, event.data.get("message_id"))
        text = str(event.data.get("text", ""))
        if key == message and conversation:
            last = conversation[-1]
            conversation[-1] = AgentEvent(last.kind, last.at, {**last.data, "text": str(last.data["text"]) + text})
            continue
        message = key
        data: dict[str, Any] = {"text": text, "replayed": True}
        if key[1] is not None:
            data["message_id"] = key[1]
        conversation.append(AgentEvent(target, event.at, data))
    return conversation


_STRUCTURED = SignalSource.STRUCTURED
_UPDATE_HANDLERS = {
    "agent_message_chunk": AcpEventMapper._message_chunk,
    "agent_thought_chunk": AcpEventMapper._thought_chunk,
    "user_message_chunk": AcpEventMapper._user_chunk,
    "tool_call": AcpEventMapper._tool_call,
    "tool_call_update": AcpEventMapper._tool_update,
    "plan": AcpEventMapper._plan,
    "available_commands_update": AcpEventMapper._commands,
    "current_mode_update": AcpEventMapper._mode,
    "session_info_update": AcpEventMapper._info,
    "config_option_update": AcpEventMapper._info,
    "usage_update": AcpEventMapper._info,
}
