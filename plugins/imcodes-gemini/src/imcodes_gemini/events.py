"""Gemini CLI's hooks, read into a state.

Gemini runs each configured hook command with the payload as JSON on stdin; the payload names its event in
``hook_event_name``. :func:`hook_event` makes an :class:`AgentEvent` of one. Installing the hooks is the
daemon's work (issue 5). Known gap: a request cancelled with Esc fires no AfterAgent, so these hooks keep saying
working until the next event; the screen detector sees the idle input box meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
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

_HOOKS: Mapping[str, tuple[SessionState, float, WorkDetail | None]] = {
    # The hook fires before the TUI has painted its input box (a prompt typed then is lost): the screen says idle.
    "SessionStart": (SessionState.STARTING, 0.3, None),
    "BeforeAgent": (SessionState.WORKING, 0.9, WorkDetail.THINKING),
    "BeforeModel": (SessionState.WORKING, 0.9, WorkDetail.THINKING),
    "BeforeToolSelection": (SessionState.WORKING, 0.9, WorkDetail.THINKING),
    "AfterModel": (SessionState.WORKING, 0.85, WorkDetail.STREAMING),
    "BeforeTool": (SessionState.WORKING, 0.9, WorkDetail.TOOL_RUNNING),
    "AfterTool": (SessionState.WORKING, 0.9, WorkDetail.THINKING),
    "AfterAgent": (SessionState.IDLE, 0.95, None),
    "SessionEnd": (SessionState.EXITED, 0.95, None),
}
_PERMISSION_NOTIFICATION = "ToolPermission"


def hook_event(payload: Mapping[str, Any], at: float) -> AgentEvent:
    return AgentEvent(str(payload.get("hook_event_name", "")), at, dict(payload))


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


class GeminiEventDetector(StateDetector):
    name = "gemini-events"
    drivers = frozenset({"gemini"})

    def read(self, observation: Observation) -> StateReading | None:
        for event in reversed(observation.events):
            data = event.data if isinstance(event.data, Mapping) else {}
            if event.kind == "Notification":
                if _text(data, "notification_type") != _PERMISSION_NOTIFICATION:
                    continue
                details = data.get("details")
                command = _text(details, "command") if isinstance(details, Mapping) else ""
                evidence = f"Notification hook: {_text(data, 'message') or 'tool permission'}"
                evidence += f" {command!r}" if command else ""
                return self._reading(SessionState.WAITING_PERMISSION, 0.95, evidence)
            known = _HOOKS.get(event.kind)
            if known is None:
                continue  # PreCompress and others say nothing about the state
            state, confidence, detail = known
            evidence = f"{event.kind} hook"
            if event.kind == "SessionEnd" and _text(data, "reason"):
                evidence += f" (reason {_text(data, 'reason')})"
            return self._reading(state, confidence, evidence, detail)
        return None

    def _reading(
        self, state: SessionState, confidence: float, evidence: str, detail: WorkDetail | None = None
    ) -> StateReading:
        return StateReading(state, confidence, evidence, self.name, SignalSource.STRUCTURED, detail)
