"""Machine channels into the daemon: the hook event socket.

Agents run ``imcodes hook AGENT`` for each hook event (see ``imcodes_core.cli.hook``); it writes one JSON line
``{"v": 1, "agent", "session", "at", "payload"}`` to ``<home>/daemon/events.sock`` (mode 0600: only this user's
processes may report). Each line is routed to its session's live object: as an :class:`AgentEvent` for the state
detectors (the plugin's event detector reads it; the arbiter ranks it above screen readings), and as chat timeline
events: ``user.prompt``, ``tool.call``, ``tool.result``, ``permission.requested``, ``assistant.final``.

The payload fields read here are Claude Code's hook payloads (``hook_event_name``, ``prompt``, ``tool_name``,
``tool_input``, ``tool_response``, ``transcript_path``); other agents whose hooks use the same names get the same
chat events (Codex's hooks do). Gemini CLI's hooks have names of their own (``BeforeAgent``, ``BeforeTool``,
``AfterTool``, ``Notification`` of type ``ToolPermission``, ``AfterAgent``), and Codex's ``notify`` program sends
``{"type": "agent-turn-complete"}`` with no hook name: the event is named by its ``type`` then. Nothing here runs on
a timer: work happens only when a line arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from imcodes_core.daemon.gemini_chat import deduplicated_response, last_gemini_text
from imcodes_core.daemon.live import LiveSession
from imcodes_core.daemon.sessions import conversation_id
from imcodes_core.daemon.tail import tail_lines
from imcodes_core.redaction import SecretRegistry, redact
from imcodes_core.states import AgentEvent

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 2 << 20  # the hook sends at most 1 MiB of payload plus its envelope
TEXT_LIMIT = 8000  # prompt and answer text kept in the timeline
DETAIL_LIMIT = 2000  # tool input and output kept in the timeline
TRANSCRIPT_TAIL_BYTES = 256 * 1024  # the last assistant message is near the end: never read a whole transcript
CODEX_TURN_COMPLETE = "agent-turn-complete"  # Codex's notify payload type
# Codex also notifies for the request that titles a new thread (on a thread of its own): not the user's turn.
CODEX_TITLE_REQUEST_PREFIX = "Generate a concise, single-line task title"


class EventChannel:
    """The unix socket hook commands write to; ``find(session)`` gives the live session of a name (or None)."""

    def __init__(
        self, path: Path, find: Callable[[str], LiveSession | None], secrets: SecretRegistry | None = None
    ) -> None:
        self.path = path
        self.find = find
        self.secrets = secrets
        self.received = 0  # lines routed to a session: tests and diagnostics read it
        self._server: asyncio.Server | None = None
        self._asking: set[str] = set()  # sessions with a permission request already in the timeline
        self._prompted: dict[str, str] = {}  # Gemini: the prompt of the turn in progress (a retry repeats it)
        self._finished_turns: dict[str, str] = {}  # Codex: the turn whose answer a Stop hook already gave

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a daemon that died; the instance lock says no other daemon runs
        old_umask = os.umask(0o177)  # the socket is born 0600: no window where another user could connect
        try:
            self._server = await asyncio.start_unix_server(self._client, str(self.path), limit=MAX_LINE_BYTES)
        except OSError as exc:  # e.g. a path over the 107-byte limit of unix sockets: run on, from screens only
            log.warning("no hook event socket at %s (%s): agent state comes from screens only", self.path, exc)
            return
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                self.handle_line(line)
        except (ValueError, ConnectionError) as exc:  # a line over the limit, a reset: drop this client
            log.info("hook event connection dropped: %s", exc)
        finally:
            writer.close()

    def handle_line(self, line: bytes) -> bool:
        """Route one line; False when it is malformed or names no live session."""
        try:
            message = json.loads(line)
        except ValueError:
            log.info("hook event is not JSON: dropped")
            return False
        if not isinstance(message, dict) or not isinstance(message.get("payload"), dict):
            return False
        session, payload = str(message.get("session", "")), message["payload"]
        live = self.find(session)
        if live is None:
            log.info("hook event for unknown session %r: dropped", session[:64])
            return False
        at = message.get("at")
        event = AgentEvent(
            _text(payload, "hook_event_name") or _text(payload, "type"),  # no hook name: Codex's notify
            float(at) if isinstance(at, int | float) else 0.0,
            payload,
        )
        self.received += 1
        agent = str(message.get("agent", ""))
        for kind, data in self.chat_events(session, event, agent):
            live.emit(kind, data)
        conversation = reported_conversation(agent, event)
        if conversation and conversation != live.record.conversation:
            live.record.conversation = conversation  # what "Resume" offers once this session has ended
            live.sink.updated(live)
        live.machine_event(event)
        return True

    # -- chat timeline -------------------------------------------------------------------------------------------

    def chat_events(self, session: str, event: AgentEvent, agent: str = "claude") -> list[tuple[str, dict[str, Any]]]:
        if agent == "gemini":
            return self.gemini_chat_events(session, event)
        if agent == "codex" and event.kind in ("Stop", CODEX_TURN_COMPLETE):
            return self._codex_final(session, event)
        return self._claude_named(session, event)

    def _claude_named(self, session: str, event: AgentEvent) -> list[tuple[str, dict[str, Any]]]:
        """Claude Code's hooks, and any agent's hooks of the same names and fields."""
        data = event.data
        tool = {"tool": _text(data, "tool_name"), "id": _text(data, "tool_use_id")}
        if event.kind == "UserPromptSubmit":
            self._asking.discard(session)
            return [("user.prompt", {"text": self._clip(_text(data, "prompt"), TEXT_LIMIT), "source": "hook"})]
        if event.kind == "PreToolUse":
            return [("tool.call", {**tool, "input": self._detail(data.get("tool_input"))})]
        if event.kind == "PostToolUse":
            self._asking.discard(session)
            return [("tool.result", {**tool, "output": self._detail(data.get("tool_response"))})]
        if event.kind == "PermissionRequest":
            self._asking.add(session)
            return [("permission.requested", {**tool, "input": self._detail(data.get("tool_input")), "via": "hook"})]
        if event.kind == "Notification" and _text(data, "notification_type") == "permission_prompt":
            if session in self._asking:  # PermissionRequest said it already (Notification comes seconds later)
                return []
            self._asking.add(session)
            return [("permission.requested", {"message": self._clip(_text(data, "message"), TEXT_LIMIT)})]
        if event.kind == "Stop":
            self._asking.discard(session)
            text = last_assistant_text(_text(data, "transcript_path")) or _text(data, "last_assistant_message")
            return [("assistant.final", {"text": self._clip(text, TEXT_LIMIT)})] if text else []
        return []

    def _codex_final(self, session: str, event: AgentEvent) -> list[tuple[str, dict[str, Any]]]:
        """The answer from Codex's Stop hook, or from ``notify`` when no Stop hook gave that turn's answer.

        Codex's ``transcript_path`` is its rollout file, no Claude transcript: the payload's own text is used.
        """
        data = event.data
        self._asking.discard(session)
        if event.kind == "Stop":
            turn, text = _text(data, "turn_id"), _text(data, "last_assistant_message")
        else:
            inputs = data.get("input-messages")
            last_input = inputs[-1] if isinstance(inputs, list) and inputs else ""
            if isinstance(last_input, str) and last_input.startswith(CODEX_TITLE_REQUEST_PREFIX):
                return []
            turn, text = _text(data, "turn-id"), _text(data, "last-assistant-message")
            if turn and self._finished_turns.get(session) == turn:
                return []  # the Stop hook of this turn said it already
        if turn:
            self._finished_turns[session] = turn
        return [("assistant.final", {"text": self._clip(text, TEXT_LIMIT)})] if text else []

    def gemini_chat_events(self, session: str, event: AgentEvent) -> list[tuple[str, dict[str, Any]]]:
        """Gemini CLI's hooks: no tool call ids; the permission question comes as a Notification hook."""
        data = event.data
        if event.kind == "BeforeAgent":
            self._asking.discard(session)
            prompt = _text(data, "prompt")
            if self._prompted.get(session) == prompt:
                return []  # the same turn's prompt again (sent again while the CLI was still starting)
            self._prompted[session] = prompt
            return [("user.prompt", {"text": self._clip(prompt, TEXT_LIMIT), "source": "hook"})]
        tool = {"tool": _text(data, "tool_name"), "id": ""}
        if event.kind == "BeforeTool":
            return [("tool.call", {**tool, "input": self._detail(data.get("tool_input"))})]
        if event.kind == "AfterTool":
            self._asking.discard(session)
            return [("tool.result", {**tool, "output": self._detail(data.get("tool_response"))})]
        if event.kind == "Notification" and _text(data, "notification_type") == "ToolPermission":
            if session in self._asking:
                return []
            self._asking.add(session)
            details = data.get("details")
            asked = {
                "tool": _text(details, "title") if isinstance(details, Mapping) else "",
                "input": _text(details, "command") if isinstance(details, Mapping) else "",
                "message": self._clip(_text(data, "message"), TEXT_LIMIT),
                "via": "hook",
            }
            return [("permission.requested", asked)]
        if event.kind == "AfterAgent":
            self._asking.discard(session)
            self._prompted.pop(session, None)
            # Gemini's own chat file holds the clean answer; prompt_response repeats streamed chunks (gemini_chat)
            chat_file = _text(data, "transcript_path")
            text = last_gemini_text(chat_file) or deduplicated_response(_text(data, "prompt_response"))
            return [("assistant.final", {"text": self._clip(text, TEXT_LIMIT)})] if text else []
        return []

    def _clip(self, text: str, limit: int) -> str:
        text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")  # storable: no NUL, surrogate
        return redact(text, self.secrets)[:limit]

    def _detail(self, value: object) -> str:
        if value is None:
            return ""
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        return self._clip(text, DETAIL_LIMIT)


def reported_conversation(agent: str, event: AgentEvent) -> str:
    """The agent's own conversation id in one machine-channel event, or "".

    Claude's, Codex's and Gemini's hooks all carry ``session_id`` (the id their ``--resume`` / ``resume`` takes);
    Codex's ``notify`` carries ``thread-id``, except for the thread that only titles a new session.
    """
    data = event.data
    if agent == "codex" and event.kind == CODEX_TURN_COMPLETE:
        inputs = data.get("input-messages")
        last_input = inputs[-1] if isinstance(inputs, list) and inputs else ""
        if isinstance(last_input, str) and last_input.startswith(CODEX_TITLE_REQUEST_PREFIX):
            return ""
        return conversation_id(data.get("thread-id"))
    return conversation_id(data.get("session_id"))


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def last_assistant_text(transcript: str, tail_bytes: int = TRANSCRIPT_TAIL_BYTES) -> str:
    """The text of the final assistant message in a Claude Code transcript (JSONL), read from its last bytes.

    The assistant entries after the last user entry (the prompt, or the tool result the answer follows) count,
    as Claude's own ``last_assistant_message``: text written before a tool call is not the final answer. Their
    text blocks are joined. "" when the file is absent, unreadable or holds none.
    """
    lines = tail_lines(transcript, tail_bytes)
    texts: list[str] = []
    for raw in reversed(lines):
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("message"), dict):
            continue
        message, kind = entry["message"], entry.get("type")
        content = message.get("content")
        if kind == "user" and not entry.get("isMeta"):
            break  # the prompt or the tool result this final message answers
        if kind == "assistant" and isinstance(content, list):
            found = [b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text" and b.get("text")]
            if found:
                texts.insert(0, "\n".join(found))
    return "\n\n".join(texts).strip()
