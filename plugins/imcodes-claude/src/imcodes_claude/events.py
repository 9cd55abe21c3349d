"""Claude Code's machine channels, read into a state: hook payloads and the session status file.

- Hooks: Claude runs a configured command for each hook event with the payload as JSON on stdin; the payload
  names its event in ``hook_event_name``. :func:`hook_event` turns one payload into an :class:`AgentEvent`.
- ``~/.claude/sessions/<pid>.json``: Claude rewrites it with ``status`` idle / busy / waiting (``waitingFor``);
  :func:`status_event` turns one snapshot of it into an :class:`AgentEvent` of kind :data:`SESSION_STATUS`.

Installing the hooks and watching the file is the daemon's work (issue 5); this module only reads what they say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
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

SESSION_STATUS = "claude-session-status"

# hook event -> (state, confidence, detail). Events not listed (MessageDisplay, PreCompact, ...) say nothing new.
_HOOKS: Mapping[str, tuple[SessionState, float, WorkDetail | None]] = {
    # Claude fires SessionStart once the TUI is up and waiting for a first prompt; low confidence, so a
    # screen that shows something more specific is preferred.
    "SessionStart": (SessionState.IDLE, 0.6, None),
    "UserPromptSubmit": (SessionState.WORKING, 0.9, WorkDetail.THINKING),
    "PreToolUse": (SessionState.WORKING, 0.9, WorkDetail.TOOL_RUNNING),
    "PermissionRequest": (SessionState.WAITING_PERMISSION, 0.95, None),
    "PostToolUse": (SessionState.WORKING, 0.9, WorkDetail.THINKING),
    "PostToolBatch": (SessionState.WORKING, 0.9, WorkDetail.THINKING),
    "MessageDisplay": (SessionState.WORKING, 0.85, WorkDetail.STREAMING),
    "Stop": (SessionState.IDLE, 0.95, None),
    "SessionEnd": (SessionState.EXITED, 0.95, None),
}
_NOTIFICATIONS: Mapping[str, SessionState] = {
    "permission_prompt": SessionState.WAITING_PERMISSION,
    "idle_prompt": SessionState.IDLE,
}
_STATUS: Mapping[str, SessionState] = {
    "idle": SessionState.IDLE,
    "busy": SessionState.WORKING,
    "waiting": SessionState.WAITING_PERMISSION,
}


def hook_event(payload: Mapping[str, Any], at: float) -> AgentEvent:
    """One hook payload (as Claude writes it to the hook's stdin) as an event."""
    return AgentEvent(str(payload.get("hook_event_name", "")), at, dict(payload))


def status_event(content: Mapping[str, Any], at: float) -> AgentEvent:
    """One snapshot of ``~/.claude/sessions/<pid>.json`` as an event."""
    return AgentEvent(SESSION_STATUS, at, dict(content))


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


class ClaudeEventDetector(StateDetector):
    """The latest event that says something about the state wins; the screen is not looked at."""

    name = "claude-events"
    drivers = frozenset({"claude"})

    def read(self, observation: Observation) -> StateReading | None:
        for event in reversed(observation.events):
            reading = self._read_event(event)
            if reading is not None:
                return replace(reading, at=event.at) if event.at > 0 else reading  # as of the event, not now
        return None

    def _read_event(self, event: AgentEvent) -> StateReading | None:
        data = event.data if isinstance(event.data, Mapping) else {}
        if event.kind == SESSION_STATUS:
            status = _text(data, "status")
            if not status:  # the file is written before the TUI is ready
                return self._reading(SessionState.STARTING, 0.8, "session file without a status yet")
            state = _STATUS.get(status)
            if state is None:
                return None
            waiting = _text(data, "waitingFor")
            return self._reading(state, 0.9, f"session file says {status}" + (f" ({waiting})" if waiting else ""))
        if event.kind == "Notification":
            kind = _text(data, "notification_type")
            state = _NOTIFICATIONS.get(kind)
            if state is None:
                return None
            return self._reading(state, 0.9, f"Notification hook: {_text(data, 'message') or kind}")
        known = _HOOKS.get(event.kind)
        if known is None:
            return None
        state, confidence, detail = known
        evidence = f"{event.kind} hook"
        if event.kind == "PermissionRequest" or event.kind == "PreToolUse":
            tool_input = data.get("tool_input")
            command = _text(tool_input, "command") if isinstance(tool_input, Mapping) else ""
            evidence += f": {_text(data, 'tool_name') or 'a tool'}" + (f" {command!r}" if command else "")
        elif event.kind == "SessionEnd" and _text(data, "reason"):
            evidence += f" (reason {_text(data, 'reason')})"
        return self._reading(state, confidence, evidence, detail)

    def _reading(
        self, state: SessionState, confidence: float, evidence: str, detail: WorkDetail | None = None
    ) -> StateReading:
        return StateReading(state, confidence, evidence, self.name, SignalSource.STRUCTURED, detail)
