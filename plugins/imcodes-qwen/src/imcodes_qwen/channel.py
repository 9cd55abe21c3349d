"""Qwen Code's ``--json-file`` event stream, followed by the daemon while ``qwen`` runs in a tmux pane.

The TUI writes one JSON message a line (Claude's stream-json shape, see events.py). The channel gives every
message to the state detectors (:func:`~imcodes_qwen.events.json_file_event`), turns the ones a person reads into
chat events (:class:`QwenChat`) and reports the conversation id ``qwen --resume`` takes (every message carries it
as ``session_id``).

Lines already in the file when the channel starts are history: a restarted daemon adopting a running session
reads them for the state and the conversation id, but does not put them in the timeline again. (A new launch has
no file yet: the driver removes a stale one, and Qwen writes its first line seconds after it starts.)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imcodes_core.channels import ChannelSink, JsonLinesTail
from imcodes_qwen.events import json_file_event

log = logging.getLogger(__name__)

CHANNEL_NAME = "qwen-json-file"
HISTORY_EVENTS = 50  # of the lines found at start, the newest this many reach the detectors
DELTA_CHARS = 4000  # streamed text is reported once per read of the file, or as soon as this much is pending
DETAIL_CHARS = 4000  # tool input and output kept per event (the daemon bounds it again)

ChatEvent = tuple[str, dict[str, Any]]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _blocks(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = _mapping(message.get("message")).get("content")
    return [_mapping(block) for block in content] if isinstance(content, list) else []


def _texts(blocks: list[Mapping[str, Any]]) -> str:
    return "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")


def _detail(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:DETAIL_CHARS]


class QwenChat:
    """Turns json-file messages into chat events, in order. Keeps what it must remember between lines: the tools
    called so far (a ``tool_result`` names only the call's id) and the streamed text not yet reported."""

    def __init__(self) -> None:
        self.tools: dict[str, str] = {}  # tool_use id -> tool name
        self._delta: list[str] = []
        self._delta_id = ""
        self._texts: list[str] = []  # the text blocks of the model message being written
        self._calls_tool = False  # whether that message calls a tool (then it is no answer yet)

    def read(self, message: Mapping[str, Any]) -> list[ChatEvent]:
        kind = message.get("type")
        if kind == "stream_event":
            return self._stream(_mapping(message.get("event")))
        events = self.flush()  # order holds: text streamed so far comes before whatever this message says
        if kind == "user":
            events += self._user(_blocks(message))
        elif kind == "assistant":
            events += self._assistant(_blocks(message))
        elif kind == "control_request":
            events += self._permission_request(message)
        elif kind == "control_response":
            response = _mapping(message.get("response"))
            answer = _mapping(response.get("response"))
            allowed = answer.get("allowed")
            data = {"request_id": str(response.get("request_id") or ""), "allowed": allowed}
            if isinstance(allowed, bool):
                events.append(("permission.answered", data))
        return events

    def flush(self) -> list[ChatEvent]:
        """The streamed text not reported yet, as one ``assistant.delta`` (nothing when there is none)."""
        if not self._delta:
            return []
        data = {"text": "".join(self._delta), "message_id": self._delta_id}
        self._delta = []
        return [("assistant.delta", data)]

    def _stream(self, event: Mapping[str, Any]) -> list[ChatEvent]:
        kind = event.get("type")
        if kind == "message_start":
            events = self.flush()
            self._delta_id = str(_mapping(event.get("message")).get("id") or "")
            self._texts, self._calls_tool = [], False
            return events
        delta = _mapping(event.get("delta"))
        if kind == "content_block_delta" and delta.get("type") == "text_delta":
            self._delta.append(str(delta.get("text") or ""))
            return self.flush() if sum(map(len, self._delta)) >= DELTA_CHARS else []
        if kind == "content_block_stop":
            return self.flush()
        if kind == "message_stop":  # the whole message is written: without a tool call, its text is the answer
            events, text = self.flush(), "".join(self._texts)
            if text and not self._calls_tool:
                events.append(("assistant.final", {"text": text}))
            self._texts, self._calls_tool = [], False
            return events
        return []

    def _user(self, blocks: list[Mapping[str, Any]]) -> list[ChatEvent]:
        events: list[ChatEvent] = []
        text = _texts(blocks)
        if text:
            events.append(("user.prompt", {"text": text, "source": "json-file"}))
        for block in blocks:
            if block.get("type") == "tool_result":
                call = str(block.get("tool_use_id") or "")
                data = {
                    "tool": self.tools.pop(call, ""),
                    "id": call,
                    "output": _detail(block.get("content")),
                    "is_error": bool(block.get("is_error")),
                }
                events.append(("tool.result", data))
        return events

    def _assistant(self, blocks: list[Mapping[str, Any]]) -> list[ChatEvent]:
        """One ``assistant`` line is one content block of the model's message (Qwen writes the text and the tool
        call as two lines of one message): the answer is known at ``message_stop``."""
        self._texts.append(_texts(blocks))
        calls = [block for block in blocks if block.get("type") == "tool_use"]
        self._calls_tool = self._calls_tool or bool(calls)
        events: list[ChatEvent] = []
        for call in calls:
            call_id, tool = str(call.get("id") or ""), str(call.get("name") or "")
            self.tools[call_id] = tool
            events.append(("tool.call", {"tool": tool, "id": call_id, "input": _detail(call.get("input"))}))
        return events

    def _permission_request(self, message: Mapping[str, Any]) -> list[ChatEvent]:
        request = _mapping(message.get("request"))
        if request.get("subtype") != "can_use_tool":
            return []
        suggestions = request.get("permission_suggestions")
        labels = [str(_mapping(s).get("label") or "") for s in suggestions] if isinstance(suggestions, list) else []
        data = {
            "tool": str(request.get("tool_name") or ""),
            "id": str(request.get("tool_use_id") or ""),
            "input": _detail(request.get("input")),
            "request_id": str(message.get("request_id") or ""),
            "suggestions": [label for label in labels if label],
        }
        return [("permission.requested", data)]


def _decode(line: bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _ended(message: Mapping[str, Any]) -> bool:
    return message.get("type") == "system" and message.get("subtype") == "session_end"


class QwenJsonFileChannel:
    """Follows one ``--json-file`` until Qwen says ``session_end`` (a relaunch gets a channel of its own)."""

    name = CHANNEL_NAME

    def __init__(self, path: Path, *, fast: float = 0.05, slow: float = 0.5) -> None:
        self.path = path
        self.fast = fast
        self.slow = slow

    async def follow(self, sink: ChannelSink) -> None:
        tail = JsonLinesTail(self.path, fast=self.fast, slow=self.slow)
        chat = QwenChat()
        history = [m for m in map(_decode, tail.read_available()) if m is not None]
        for message in history[-HISTORY_EVENTS:]:
            sink.event(json_file_event(message, time.time()))
        self._conversation(history, sink)
        if any(_ended(m) for m in history):
            return
        while True:
            messages = [m for m in map(_decode, await tail.lines()) if m is not None]
            for message in messages:
                for kind, data in chat.read(message):
                    sink.chat(kind, data)
                if not _streamed_text(message):  # per token: nothing a detector learns from (it costs a judge)
                    sink.event(json_file_event(message, time.time()))
            for kind, data in chat.flush():  # text streamed in this read: one event per read, not per token
                sink.chat(kind, data)
            self._conversation(messages, sink)
            if any(_ended(m) for m in messages):
                log.info("qwen ended its session (%s)", self.path)
                return

    @staticmethod
    def _conversation(messages: list[dict[str, Any]], sink: ChannelSink) -> None:
        for message in reversed(messages):
            session_id = message.get("session_id")
            if isinstance(session_id, str) and session_id:
                sink.conversation(session_id)
                return


def _streamed_text(message: Mapping[str, Any]) -> bool:
    return message.get("type") == "stream_event" and _mapping(message.get("event")).get("type") == (
        "content_block_delta"
    )
