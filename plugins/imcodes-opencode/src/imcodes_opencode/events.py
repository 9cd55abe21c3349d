"""OpenCode's server-sent events, read into a state.

Started with ``--port N``, the TUI serves ``GET /event``: one JSON object per event with ``type`` and
``properties``. :func:`sse_event` makes an :class:`AgentEvent` of one. The daemon follows the stream through
:class:`imcodes_opencode.channel.OpenCodeEventChannel`, which passes the kinds in ``STATE_EVENTS`` on to
:class:`OpenCodeEventDetector`.
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

# The event kinds the detector reads; everything else on the stream (heartbeats, diffs, message and session
# metadata) says nothing about the state and stays out of the session's recent events.
STATE_EVENTS = frozenset(
    {
        "server.connected",
        "session.status",
        "session.idle",
        "tui.command.execute",
        "permission.asked",
        "permission.replied",
        "message.part.updated",
        "message.part.delta",
    }
)


def sse_event(event: Mapping[str, Any], at: float) -> AgentEvent:
    properties = event.get("properties")
    return AgentEvent(str(event.get("type", "")), at, dict(properties) if isinstance(properties, Mapping) else {})


def _get(data: Mapping[str, Any], *keys: str) -> Any:
    value: Any = data
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


class OpenCodeEventDetector(StateDetector):
    name = "opencode-events"
    drivers = frozenset({"opencode"})

    def read(self, observation: Observation) -> StateReading | None:
        for event in reversed(observation.events):
            reading = self._read_event(event.kind, event.data if isinstance(event.data, Mapping) else {})
            if reading is not None:
                return replace(reading, at=event.at) if event.at > 0 else reading  # as of the event, not now
        return None

    def _read_event(self, kind: str, data: Mapping[str, Any]) -> StateReading | None:
        if kind == "server.connected":
            # The server answers before the TUI has painted its input box (text typed then is lost): the screen
            # says when it is ready, so this only says "starting", and weakly.
            return self._reading(SessionState.STARTING, 0.3, "server.connected: the server is up, the TUI maybe not")
        if kind == "session.status":
            status = _get(data, "status", "type")
            if status == "busy":
                return self._reading(SessionState.WORKING, 0.9, "session.status busy", WorkDetail.THINKING)
            if status == "idle":
                return self._reading(SessionState.IDLE, 0.95, "session.status idle")
            return None
        if kind == "session.idle":
            return self._reading(SessionState.IDLE, 0.95, "session.idle")
        if kind == "tui.command.execute" and data.get("command") == "prompt.submit":
            return self._reading(SessionState.WORKING, 0.85, "prompt submitted", WorkDetail.THINKING)
        if kind == "permission.asked":
            patterns = data.get("patterns")
            what = ", ".join(p for p in patterns if isinstance(p, str)) if isinstance(patterns, list) else ""
            evidence = f"permission.asked: {data.get('permission', 'a tool')}" + (f" {what!r}" if what else "")
            return self._reading(SessionState.WAITING_PERMISSION, 0.95, evidence)
        if kind == "permission.replied":
            return self._reading(SessionState.WORKING, 0.9, f"permission.replied {data.get('reply', '')}".strip())
        if kind == "message.part.updated" and _get(data, "part", "type") == "tool":
            status = _get(data, "part", "state", "status")
            if status == "running":
                tool = _get(data, "part", "tool")
                return self._reading(SessionState.WORKING, 0.9, f"tool {tool} running", WorkDetail.TOOL_RUNNING)
            return None
        if kind == "message.part.delta":
            return self._reading(SessionState.WORKING, 0.85, "assistant text streaming", WorkDetail.STREAMING)
        return None  # heartbeats, diffs, message and session metadata say nothing about the state

    def _reading(
        self, state: SessionState, confidence: float, evidence: str, detail: WorkDetail | None = None
    ) -> StateReading:
        return StateReading(state, confidence, evidence, self.name, SignalSource.STRUCTURED, detail)
