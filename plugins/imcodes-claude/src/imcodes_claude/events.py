"""Claude Code's machine channels, read into a state: hook payloads and the session status file.

- Hooks: Claude runs a configured command for each hook event with the payload as JSON on stdin; the payload
  names its event in ``hook_event_name``. :func:`hook_event` turns one payload into an :class:`AgentEvent`.
- ``~/.claude/sessions/<pid>.json``: Claude rewrites it with ``status`` idle / busy / waiting (``waitingFor``);
  the session channel in status.py reports each change as ``status.<status>``, dated by Claude's
  ``statusUpdatedAt`` (:func:`~imcodes_claude.status.status_event`).

Both are read together: the event that became true last wins, by its time (``at``), not by when it reached the
daemon. The two channels race: a hook is stamped by ``imcodes hook`` once its process runs (tens of ms after
Claude fired it), the file is read up to one poll after Claude wrote it, so the order of arrival says little.
Installing the hooks is hooks.py's work and following the file status.py's; this module only reads what they say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from imcodes_claude.status import NO_STATUS, STATUS_PREFIX, status_event
from imcodes_core.states import (
    AgentEvent,
    Observation,
    SessionState,
    SignalSource,
    StateDetector,
    StateReading,
    WorkDetail,
)

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
    NO_STATUS: SessionState.STARTING,
    "idle": SessionState.IDLE,
    "busy": SessionState.WORKING,
    "waiting": SessionState.WAITING_PERMISSION,
}


def hook_event(payload: Mapping[str, Any], at: float) -> AgentEvent:
    """One hook payload (as Claude writes it to the hook's stdin) as an event."""
    return AgentEvent(str(payload.get("hook_event_name", "")), at, dict(payload))


__all__ = ["ClaudeEventDetector", "hook_event", "status_event"]


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


class ClaudeEventDetector(StateDetector):
    """The latest event that says something about the state wins; the screen is not looked at."""

    name = "claude-events"
    drivers = frozenset({"claude"})

    def read(self, observation: Observation) -> StateReading | None:
        chosen: tuple[StateReading, AgentEvent] | None = None
        newest = float("-inf")
        latest = 0.0  # an event without a time is taken as the newest so far (it came last)
        for event in observation.events:
            latest = max(latest, event.at)
            clock = event.at if event.at > 0 else latest
            reading = self._read_event(event)
            if reading is not None and clock >= newest:  # a tie goes to the later arrival
                chosen, newest = (reading, event), clock
        if chosen is None:
            return None
        reading, event = chosen
        return replace(reading, at=event.at) if event.at > 0 else reading  # as of the event, not now

    def _read_event(self, event: AgentEvent) -> StateReading | None:
        data = event.data if isinstance(event.data, Mapping) else {}
        if event.kind.startswith(STATUS_PREFIX):
            return self._read_status(event.kind.removeprefix(STATUS_PREFIX), data)
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

    def _read_status(self, status: str, data: Mapping[str, Any]) -> StateReading | None:
        state = _STATUS.get(status)
        if state is None:
            return None
        file = _text(data, "file")
        where = "/".join(file.split("/")[-2:]) if file else "session file"
        if status == NO_STATUS:  # the file is written before the TUI is ready
            return self._reading(state, 0.8, f"{where}: no status yet")
        waiting = _text(data, "waitingFor")
        evidence = f"{where}: {status}" + (f" ({waiting})" if waiting else "")
        # Claude says idle once its TUI is up, maybe before the input box takes keys (as SessionStart): until a
        # first turn, the screen decides when the session is ready for a prompt
        confidence = 0.6 if status == "idle" and data.get("turns") == 0 else 0.9
        return self._reading(state, confidence, evidence)

    def _reading(
        self, state: SessionState, confidence: float, evidence: str, detail: WorkDetail | None = None
    ) -> StateReading:
        return StateReading(state, confidence, evidence, self.name, SignalSource.STRUCTURED, detail)
