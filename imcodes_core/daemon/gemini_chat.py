"""The final answer of a Gemini CLI turn, for the chat timeline's ``assistant.final``.

Gemini CLI's ``AfterAgent`` hook carries ``prompt_response``, but 0.61.0 builds it by joining the text of every
streamed response with a space after the first response's text was already grown to the whole answer: the answer
comes out followed by a copy of all but its first chunk ("Hello from the fake model. FAKE_OK the fake model.
FAKE_OK"). It also holds the whole turn's text, an intro written before a tool call included. The clean text is in
Gemini's own chat file, which every hook payload names as ``transcript_path`` (``<home>/.gemini/tmp/<project>/chats/
session-*.jsonl``; ``gemini --resume`` appends to the same file). Gemini writes a message to it with
``appendFileSync`` before it runs the ``AfterAgent`` hook, so the file is complete when the hook reports.

The file's records (Gemini's ``loadConversationRecord``): a message ``{"id", "type", "content", ...}`` (a later
record with the same id replaces the earlier one), ``{"$rewindTo": id}`` (drops that message and all after it),
``{"$set": {...}}`` (metadata; a ``messages`` list there replaces every message) and the session's first metadata
line. Only the file's last bytes are read: the turn's messages are at its end.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from imcodes_core.daemon.tail import tail_lines

CHAT_TAIL_BYTES = 256 * 1024  # the last turn is near the end: never read a whole chat history


def last_gemini_text(chat_file: str, tail_bytes: int = CHAT_TAIL_BYTES) -> str:
    """The text of the ``gemini`` messages after the last ``user`` message (the prompt, or the tool result the
    answer follows) in a Gemini CLI chat file, as Claude's ``last_assistant_message`` counts: text written before
    a tool call is not the final answer. "" when the file is absent, unreadable, of another format or holds none.
    """
    lines = tail_lines(chat_file, tail_bytes)
    texts: list[str] = []
    for message in _messages(lines):
        if message.get("type") == "user":
            texts = []  # the answer follows the last user message
        elif message.get("type") == "gemini" and (text := _content_text(message.get("content"))):
            texts.append(text)
    return "\n\n".join(texts).strip()


def _messages(lines: list[bytes]) -> list[Mapping[str, Any]]:
    """The messages the lines leave, in order, applying replacements, rewinds and ``$set`` message lists."""
    messages: dict[str, Mapping[str, Any]] = {}
    for raw in lines:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if isinstance(record.get("$rewindTo"), str):
            ids = list(messages)
            kept = ids[: ids.index(record["$rewindTo"])] if record["$rewindTo"] in ids else []
            messages = {key: messages[key] for key in kept}
        elif isinstance(record.get("id"), str):
            messages[record["id"]] = record
        elif isinstance(record.get("$set"), dict) and isinstance(record["$set"].get("messages"), list):
            messages = {m["id"]: m for m in record["$set"]["messages"] if isinstance(m, dict) and _has_id(m)}
    return list(messages.values())


def _has_id(message: Mapping[str, Any]) -> bool:
    return isinstance(message.get("id"), str)


def _content_text(content: object) -> str:
    """A message's text: a string, or the text parts of a part list (thought parts left out)."""
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        texts = [
            p["text"]
            for p in content
            if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
        ]
        return "".join(texts).strip()
    return ""


def deduplicated_response(prompt_response: str) -> str:
    """``AfterAgent``'s ``prompt_response`` without Gemini 0.61.0's repeated chunks, when no chat file is there.

    Each model response is one line (Gemini joins them with a newline); a line that is some text, a space, then
    a proper word-aligned tail of that text (whitespace aside) is that text. Other lines are kept as they are.
    """
    return "\n".join(_line_without_repeat(line) for line in prompt_response.split("\n")).strip()


def _line_without_repeat(line: str) -> str:
    for at, char in enumerate(line):
        if char != " ":
            continue
        head, repeat = line[:at].rstrip(), " ".join(line[at + 1 :].split())
        words = " ".join(head.split())
        if repeat and len(repeat) < len(words) and words.endswith(" " + repeat):
            return head
    return line
