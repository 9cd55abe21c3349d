"""What one OpenCode SSE event means for the daemon: state events, chat timeline events, the conversation id.

:class:`OpenCodeReporter` takes the decoded events of ``GET /event`` in order and reports to a
:class:`~imcodes_core.channels.ChannelSink`:

- ``event``: the kinds :class:`~imcodes_opencode.events.OpenCodeEventDetector` reads (``STATE_EVENTS``), of the
  main session only (a subagent's child session going idle says nothing about the main one), but not
  ``server.connected`` (see ``_says_something``);
- ``chat``: ``user.prompt`` (the user message's text part), ``assistant.delta`` (streamed text),
  ``assistant.thinking``, ``tool.call`` / ``tool.result`` (a tool part running / completed, once per call),
  ``permission.requested`` / ``permission.answered``, and ``assistant.final`` when the session goes idle: the text
  of the turn's last assistant message, as Claude Code's Stop hook gives it;
- ``conversation``: the id of the (main) session, the value ``opencode --session`` resumes.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from imcodes_core.channels import ChannelSink
from imcodes_core.states import AgentEvent
from imcodes_opencode.events import STATE_EVENTS
from imcodes_opencode.screen import PERMISSION_CHOICES

REMEMBERED = 512  # message roles, tool calls and parts kept to tell new from repeated (bounded: a long session)


class _Recent(OrderedDict[str, Any]):
    """An insertion-ordered map that forgets its oldest entries past ``REMEMBERED``."""

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > REMEMBERED:
            self.popitem(last=False)


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data


def _str(data: Any, *keys: str) -> str:
    value = _get(data, *keys)
    return value if isinstance(value, str) else ""


def tool_input(tool: str, value: Any) -> str:
    """A tool's input as the chat shows it: the shell command itself for bash, else compact JSON."""
    if isinstance(value, Mapping) and isinstance(value.get("command"), str) and tool == "bash":
        return str(value["command"])
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


class OpenCodeReporter:
    """Reports the events of one ``GET /event`` stream (see the module doc). One per channel: it keeps what it
    has seen (message roles, announced tool calls, the turn's answer) to report each thing once."""

    def __init__(self, sink: ChannelSink, clock: Callable[[], float] = time.time) -> None:
        self.sink = sink
        self.clock = clock  # the daemon dates hook events with time.time(): the same clock for the arbiter
        self.conversation = ""
        self.children: _Recent = _Recent()  # subagents' sessions
        self.roles: _Recent = _Recent()  # message id -> "user" | "assistant"
        self.waiting_parts: _Recent = _Recent()  # text parts of messages whose role is not known yet
        self.prompted: _Recent = _Recent()  # user text parts already reported
        self.calls: _Recent = _Recent()  # call id -> "called" | "done"
        self.answer: _Recent = _Recent()  # part id -> text, of the turn's latest assistant message
        self.answer_message = ""
        self.turn_open = False  # a prompt or busy status since the last assistant.final

    def report(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        data = event.get("properties")
        if not isinstance(kind, str) or not isinstance(data, Mapping):
            return
        session = _str(data, "sessionID")
        if kind in ("session.created", "session.updated"):
            self._session(data)
        if session and session in self.children:
            return  # a subagent's work: its state and chat are not the main session's
        if kind in STATE_EVENTS and self._says_something(kind, data):
            self.sink.event(AgentEvent(kind, self.clock(), dict(data)))
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(self, data)

    @staticmethod
    def _says_something(kind: str, data: Mapping[str, Any]) -> bool:
        """Only tool parts of ``message.part.updated`` reach the detector (text parts are large and say nothing).
        ``server.connected`` does not: the channel connects whenever it gets through (the server may come up after
        the TUI's first paint, or again after a dropped connection), and its weak "starting" would then be the
        newest reading and override the idle screen (seen with the real TUI)."""
        if kind == "server.connected":
            return False
        return kind != "message.part.updated" or _str(data, "part", "type") == "tool"

    # -- sessions ------------------------------------------------------------------------------------------------

    def _session(self, data: Mapping[str, Any]) -> None:
        info = data.get("info")
        session = _str(info, "id") or _str(data, "sessionID")
        if not session:
            return
        if _str(info, "parentID"):
            self.children.put(session, True)
        elif session != self.conversation:
            self.conversation = session
            self.sink.conversation(session)

    def _status(self, data: Mapping[str, Any]) -> None:
        status = _str(data, "status", "type")
        if status == "busy":
            self.turn_open = True
        elif status == "idle":
            self._finish_turn()

    def _idle(self, data: Mapping[str, Any]) -> None:
        self._finish_turn()

    def _finish_turn(self) -> None:
        if not self.turn_open:
            return  # session.idle right after session.status idle: the same end, reported once
        self.turn_open = False
        text = "".join(str(part) for part in self.answer.values()).strip()
        self.answer.clear()
        self.answer_message = ""
        if text:
            self.sink.chat("assistant.final", {"text": text})

    # -- messages ------------------------------------------------------------------------------------------------

    def _message(self, data: Mapping[str, Any]) -> None:
        message, role = _str(data, "info", "id"), _str(data, "info", "role")
        if not message or role not in ("user", "assistant"):
            return
        self.roles.put(message, role)
        for part in self.waiting_parts.pop(message, ()):
            self._text_part(part, role)

    def _part(self, data: Mapping[str, Any]) -> None:
        part = data.get("part")
        if not isinstance(part, Mapping):
            return
        kind = _str(part, "type")
        if kind == "tool":
            self._tool_part(part)
        elif kind == "reasoning" and _get(part, "time", "end") is not None and _str(part, "text").strip():
            self.sink.chat("assistant.thinking", {"text": _str(part, "text"), "id": _str(part, "id")})
        elif kind == "text" and not part.get("synthetic"):  # synthetic: text OpenCode adds, not the user's
            message = _str(part, "messageID")
            role = self.roles.get(message)
            if role is None:
                self.waiting_parts.put(message, [*self.waiting_parts.get(message, ()), part])
            else:
                self._text_part(part, role)

    def _text_part(self, part: Mapping[str, Any], role: str) -> None:
        part_id, text = _str(part, "id"), _str(part, "text")
        if role == "user":
            if part_id and part_id not in self.prompted and text.strip():
                self.prompted.put(part_id, True)
                self.turn_open = True
                self.answer.clear()
                self.sink.chat("user.prompt", {"text": text, "id": part_id, "source": "sse"})
            return
        message = _str(part, "messageID")
        if message != self.answer_message:  # a newer assistant message: its text is the answer so far
            self.answer.clear()
            self.answer_message = message
        if text:
            self.answer.put(part_id, text)

    def _delta(self, data: Mapping[str, Any]) -> None:
        if _str(data, "field") == "text" and (delta := _str(data, "delta")):
            self.sink.chat("assistant.delta", {"text": delta, "id": _str(data, "partID")})

    def _tool_part(self, part: Mapping[str, Any]) -> None:
        call, tool = _str(part, "callID") or _str(part, "id"), _str(part, "tool")
        state = part.get("state")
        status = _str(state, "status")
        if not call or status not in ("running", "completed", "error"):
            return  # pending: the input is not known yet
        base = {"tool": tool, "id": call}
        if call not in self.calls:
            self.calls.put(call, "called")
            self.sink.chat("tool.call", {**base, "input": tool_input(tool, _get(state, "input"))})
        if status in ("completed", "error") and self.calls.get(call) != "done":
            self.calls.put(call, "done")
            if status == "error":
                self.sink.chat("tool.result", {**base, "output": _str(state, "error"), "error": True})
            else:
                self.sink.chat("tool.result", {**base, "output": _str(state, "output")})

    # -- permissions ---------------------------------------------------------------------------------------------

    def _asked(self, data: Mapping[str, Any]) -> None:
        tool = _str(data, "permission")
        patterns = data.get("patterns")
        what = _str(data, "metadata", "command") or (
            ", ".join(p for p in patterns if isinstance(p, str)) if isinstance(patterns, list) else ""
        )
        asked = {
            "id": _str(data, "id"),
            "tool": tool,
            "input": what,
            "call": _str(data, "tool", "callID"),
            "question": f"Permission required: {tool}" + (f" {what}" if what else ""),
            "choices": [{"key": key, "label": label} for key, label in PERMISSION_CHOICES],
        }
        self.sink.chat("permission.requested", asked)

    def _replied(self, data: Mapping[str, Any]) -> None:
        self.sink.chat("permission.answered", {"id": _str(data, "requestID"), "reply": _str(data, "reply")})

    _handlers: dict[str, Callable[[OpenCodeReporter, Mapping[str, Any]], None]] = {
        "session.status": _status,
        "session.idle": _idle,
        "message.updated": _message,
        "message.part.updated": _part,
        "message.part.delta": _delta,
        "permission.asked": _asked,
        "permission.replied": _replied,
    }
