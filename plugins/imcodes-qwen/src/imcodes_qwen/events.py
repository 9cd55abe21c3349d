"""Qwen Code's ``--json-file`` event stream, read into a state.

Each line is one JSON message in Claude's stream-json shape: ``system`` (``session_start`` / ``session_end``),
``user``, ``stream_event`` (Anthropic-style streaming events), ``assistant`` (a whole message),
``control_request`` (``can_use_tool``: a permission request) and ``control_response``. :func:`json_file_event`
makes an :class:`AgentEvent` of one; starting Qwen with the stream and following it is issue 5.
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

_STREAMING = {"message_start", "content_block_start", "content_block_delta"}


def json_file_event(message: Mapping[str, Any], at: float) -> AgentEvent:
    return AgentEvent(str(message.get("type", "")), at, dict(message))


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data


def _content_types(message: Mapping[str, Any]) -> set[str]:
    content = _get(message, "message", "content")
    return {str(_get(block, "type")) for block in content} if isinstance(content, list) else set()


class QwenEventDetector(StateDetector):
    name = "qwen-events"
    drivers = frozenset({"qwen"})

    def read(self, observation: Observation) -> StateReading | None:
        for event in reversed(observation.events):
            reading = self._read_event(event.kind, event.data if isinstance(event.data, Mapping) else {})
            if reading is not None:
                return reading
        return None

    def _read_event(self, kind: str, data: Mapping[str, Any]) -> StateReading | None:
        if kind == "system":
            subtype = data.get("subtype")
            if subtype == "session_start":
                return self._reading(SessionState.IDLE, 0.6, "system session_start: no prompt yet")
            if subtype == "session_end":
                return self._reading(SessionState.EXITED, 0.95, "system session_end")
            return None
        if kind == "user":
            if "tool_result" in _content_types(data):
                return self._reading(SessionState.WORKING, 0.9, "tool result sent back", WorkDetail.THINKING)
            return self._reading(SessionState.WORKING, 0.9, "user prompt", WorkDetail.THINKING)
        if kind == "stream_event":
            if _get(data, "event", "type") in _STREAMING:
                return self._reading(SessionState.WORKING, 0.85, "assistant streaming", WorkDetail.STREAMING)
            return None  # block and message stops, goal state: no change
        if kind == "assistant":
            if "tool_use" in _content_types(data):
                return self._reading(SessionState.WORKING, 0.9, "assistant calls a tool", WorkDetail.TOOL_RUNNING)
            return self._reading(SessionState.IDLE, 0.9, "final assistant message")
        if kind == "control_request" and _get(data, "request", "subtype") == "can_use_tool":
            tool = _get(data, "request", "tool_name") or "a tool"
            command = _get(data, "request", "input", "command")
            evidence = f"can_use_tool: {tool}" + (f" {command!r}" if isinstance(command, str) else "")
            return self._reading(SessionState.WAITING_PERMISSION, 0.95, evidence)
        if kind == "control_response":
            return self._reading(SessionState.WORKING, 0.85, "permission answered", WorkDetail.TOOL_RUNNING)
        return None

    def _reading(
        self, state: SessionState, confidence: float, evidence: str, detail: WorkDetail | None = None
    ) -> StateReading:
        return StateReading(state, confidence, evidence, self.name, SignalSource.STRUCTURED, detail)
