"""Codex's machine channels, read into a state: lifecycle hooks and the ``notify`` program.

- Hooks (``~/.codex/hooks.json``; they run only once trusted): payload on stdin, event in ``hook_event_name``,
  the thread in ``session_id``. :func:`hook_event` makes an :class:`AgentEvent` of one.
- ``notify``: Codex runs the configured program with one JSON argument when a turn completes
  (``type: agent-turn-complete``). It also fires for the extra request Codex makes to title a new thread, on a
  thread of its own: those are ignored (by thread when a hook named the session's thread, else by their prompt).

Installing hooks and ``notify`` is the daemon's work (issue 5); this module only reads what they say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from imcodes_core.states import (
    AgentEvent,
    Observation,
    SessionState,
    SignalSource,
    StateDetector,
    StateReading,
    WorkDetail,
)

TURN_COMPLETE = "agent-turn-complete"
TITLE_REQUEST_PREFIX = "Generate a concise, single-line task title"

_HOOKS: Mapping[str, tuple[SessionState, float, WorkDetail | None]] = {
    "SessionStart": (SessionState.IDLE, 0.6, None),  # the TUI is up, waiting for a first prompt
    "UserPromptSubmit": (SessionState.WORKING, 0.9, WorkDetail.THINKING),
    "PreToolUse": (SessionState.WORKING, 0.9, WorkDetail.TOOL_RUNNING),
    "PermissionRequest": (SessionState.WAITING_PERMISSION, 0.95, None),
    "PostToolUse": (SessionState.WORKING, 0.9, WorkDetail.THINKING),
    "Stop": (SessionState.IDLE, 0.95, None),
    "SessionEnd": (SessionState.EXITED, 0.95, None),
}


def hook_event(payload: Mapping[str, Any], at: float) -> AgentEvent:
    return AgentEvent(str(payload.get("hook_event_name", "")), at, dict(payload))


def notify_event(payload: Mapping[str, Any], at: float) -> AgentEvent:
    """The JSON argument Codex passes to the ``notify`` program, as an event."""
    return AgentEvent(str(payload.get("type", "")), at, dict(payload))


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _data(event: AgentEvent) -> Mapping[str, Any]:
    return event.data if isinstance(event.data, Mapping) else {}


def _session_thread(events: Sequence[AgentEvent]) -> str:
    for event in reversed(events):
        if event.kind in _HOOKS and (thread := _text(_data(event), "session_id")):
            return thread
    return ""


def _is_title_request(data: Mapping[str, Any]) -> bool:
    inputs = data.get("input-messages")
    last = inputs[-1] if isinstance(inputs, list) and inputs else ""
    return isinstance(last, str) and last.startswith(TITLE_REQUEST_PREFIX)


class CodexEventDetector(StateDetector):
    name = "codex-events"
    drivers = frozenset({"codex"})

    def read(self, observation: Observation) -> StateReading | None:
        thread = _session_thread(observation.events)
        for event in reversed(observation.events):
            data = _data(event)
            if event.kind == TURN_COMPLETE:
                other_thread = thread and _text(data, "thread-id") != thread
                if other_thread or (not thread and _is_title_request(data)):
                    continue  # the title request, or another thread: not this session's turn
                reply = _text(data, "last-assistant-message")
                return self._reading(SessionState.IDLE, 0.9, f"notify: turn complete ({reply[:60]!r})")
            known = _HOOKS.get(event.kind)
            if known is None:
                continue
            state, confidence, detail = known
            evidence = f"{event.kind} hook"
            tool_input = data.get("tool_input")
            if isinstance(tool_input, Mapping) and (command := _text(tool_input, "command")):
                evidence += f": {_text(data, 'tool_name') or 'a tool'} {command!r}"
            return self._reading(state, confidence, evidence, detail)
        return None

    def _reading(
        self, state: SessionState, confidence: float, evidence: str, detail: WorkDetail | None = None
    ) -> StateReading:
        return StateReading(state, confidence, evidence, self.name, SignalSource.STRUCTURED, detail)
