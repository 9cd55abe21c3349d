"""Qwen Code's ``--json-file`` event stream, read into a state.

Each line is one JSON message in Claude's stream-json shape: ``system`` (``session_start`` / ``session_end``),
``user``, ``stream_event`` (Anthropic-style streaming events), ``assistant`` (one content block of the model's
message: its text and its tool call come as two lines; ``message_stop`` ends the message),
``control_request`` (``can_use_tool``: a permission request) and ``control_response``. :func:`json_file_event`
makes an :class:`AgentEvent` of one; the daemon follows the stream with channel.py's ``QwenJsonFileChannel``.
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
        events = observation.events
        for index in range(len(events) - 1, -1, -1):
            event = events[index]
            data = event.data if isinstance(event.data, Mapping) else {}
            if event.kind == "stream_event" and _get(data, "event", "type") == "message_stop":
                return self._message_stop(events[:index])
            reading = self._read_event(event.kind, data)
            if reading is not None:
                return reading
        return None

    def _message_stop(self, before: Sequence[AgentEvent]) -> StateReading:
        """The model's message is complete. Qwen writes one ``assistant`` line per content block (the text, then
        the tool call), so only the end of the whole message tells whether the turn is over: it is, unless the
        message called a tool."""
        for event in reversed(before):
            data = event.data if isinstance(event.data, Mapping) else {}
            if event.kind == "assistant" and "tool_use" in _content_types(data):
                return self._reading(SessionState.WORKING, 0.9, "message_stop: a tool call", WorkDetail.TOOL_RUNNING)
            if event.kind == "stream_event" and _get(data, "event", "type") == "message_start":
                break
        return self._reading(SessionState.IDLE, 0.9, "message_stop: final assistant message")

    def _read_event(self, kind: str, data: Mapping[str, Any]) -> StateReading | None:
        if kind == "system":
            subtype = data.get("subtype")
            # session_start comes while the TUI still shows "Initializing..." (a prompt typed then is lost): whether
            # the input box is up is the screen's to say
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
        if kind == "assistant":  # one content block of the message: the turn goes on at least to message_stop
            if "tool_use" in _content_types(data):
                return self._reading(SessionState.WORKING, 0.9, "assistant calls a tool", WorkDetail.TOOL_RUNNING)
            return self._reading(SessionState.WORKING, 0.85, "assistant text", WorkDetail.STREAMING)
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
