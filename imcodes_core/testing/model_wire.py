"""What the fake model answers, and each API's wire format for it. Pure functions: no sockets here.

:func:`plan_reply` reads a request body of any of the four APIs and decides: plain text, a call of the shell
tool the client offered (when the last user text holds the tool keyword), the text that follows a tool result,
or JSON matching the response schema the client asked for (Gemini's router). The ``*_stream`` functions turn a
:class:`Reply` into the ``(delay, bytes)`` pieces of that API's stream; ``*_body`` into its non-streamed JSON.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Piece = tuple[float, bytes]  # wait this long, then write these bytes

SHELL_TOOL_NAMES = (
    "Bash",
    "bash",
    "shell",
    "exec_command",
    "shell_command",
    "run_shell_command",
    "local_shell",
    "exec",
)
_SYSTEM_ROLES = {"system", "developer"}
# OpenClaw appends a user message of its own context after the prompt (and after a tool result): not the user's.
_INJECTED_USER_TEXT = "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>"


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: Mapping[str, Any]
    call_id: str
    local_shell: bool = False  # the Responses API's built-in ``local_shell`` tool, not a function


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    tool: ToolCall | None = None
    delay: float = 0.0  # seconds between streamed chunks
    kind: str = "text"  # text | tool | after_tool | json


@dataclass(frozen=True, slots=True)
class Behaviour:
    tool_keyword: str = "RUNTOOL"
    slow_keyword: str = "SLOWLY"
    text: str = "Hello from the fake model. FAKE_OK"
    after_tool_text: str = "The command ran. FAKE_TOOL_DONE"
    tool_intro: str = "I will run a shell command."
    tool_command: str = "echo FAKE_TOOL_OK"
    slow_seconds: float = 4.0


@dataclass(frozen=True, slots=True)
class Conversation:
    """What every API's request boils down to for the fake."""

    last_user_text: str
    after_tool_result: bool
    tools: Sequence[tuple[str, Mapping[str, Any]]]  # (name, JSON schema of its arguments)
    response_schema: Mapping[str, Any] | None = None


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_texts(part) for part in content)
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        return str(content["text"])
    return ""


def _schema(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def read_anthropic(body: Mapping[str, Any]) -> Conversation:
    messages = [m for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") not in _SYSTEM_ROLES]
    last = messages[-1] if messages else {}
    content = last.get("content")
    after_tool = isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )
    user = [m for m in messages if m.get("role") == "user"]
    tools = [(str(t["name"]), _schema(t.get("input_schema"))) for t in body.get("tools", []) if "name" in t]
    return Conversation(_texts(user[-1].get("content")) if user else "", after_tool, tools)


def _injected(message: Mapping[str, Any]) -> bool:
    return message.get("role") == "user" and _texts(message.get("content")).lstrip().startswith(_INJECTED_USER_TEXT)


def read_openai_chat(body: Mapping[str, Any]) -> Conversation:
    messages = [
        m
        for m in body.get("messages", [])
        if isinstance(m, dict) and m.get("role") not in _SYSTEM_ROLES and not _injected(m)
    ]
    after_tool = bool(messages) and messages[-1].get("role") == "tool"
    user = [m for m in messages if m.get("role") == "user"]
    tools = []
    for tool in body.get("tools", []):
        function = tool.get("function", {}) if isinstance(tool, dict) else {}
        if "name" in function:
            tools.append((str(function["name"]), _schema(function.get("parameters"))))
    schema = _schema(_schema(body.get("response_format")).get("json_schema")).get("schema")
    return Conversation(_texts(user[-1].get("content")) if user else "", after_tool, tools, schema or None)


def read_openai_responses(body: Mapping[str, Any]) -> Conversation:
    raw = body.get("input", [])
    items = [{"role": "user", "content": raw}] if isinstance(raw, str) else [i for i in raw if isinstance(i, dict)]
    items = [i for i in items if i.get("role") not in _SYSTEM_ROLES and i.get("type") != "reasoning"]
    after_tool = bool(items) and str(items[-1].get("type", "")).endswith("_output")
    user = [i for i in items if i.get("role") == "user"]
    tools: list[tuple[str, Mapping[str, Any]]] = []
    for tool in body.get("tools", []):
        if isinstance(tool, dict) and tool.get("type") == "local_shell":
            tools.append(("local_shell", {}))
        elif isinstance(tool, dict) and "name" in tool:
            tools.append((str(tool["name"]), _schema(tool.get("parameters"))))
    return Conversation(_texts(user[-1].get("content")) if user else "", after_tool, tools)


def read_gemini(body: Mapping[str, Any]) -> Conversation:
    contents = [c for c in body.get("contents", []) if isinstance(c, dict)]
    parts = contents[-1].get("parts", []) if contents else []
    after_tool = any(isinstance(p, dict) and "functionResponse" in p for p in parts)
    user = [c for c in contents if c.get("role", "user") == "user" and any("text" in p for p in c.get("parts", []))]
    tools = []
    for group in body.get("tools", []):
        for declaration in group.get("functionDeclarations", []) if isinstance(group, dict) else []:
            schema = declaration.get("parametersJsonSchema") or declaration.get("parameters")
            tools.append((str(declaration.get("name", "")), _schema(schema)))
    config = _schema(body.get("generationConfig"))
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    if schema is None and config.get("responseMimeType") == "application/json":
        schema = {"type": "object"}
    return Conversation(_texts(user[-1].get("parts")) if user else "", after_tool, tools, schema)


def choose_shell_tool(tools: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[str, Mapping[str, Any]] | None:
    by_name = dict(tools)
    for name in SHELL_TOOL_NAMES:
        if name in by_name:
            return name, by_name[name]
    for name, schema in tools:
        if any(word in name.lower() for word in ("shell", "bash", "command", "terminal")):
            return name, schema
    return None


def example_from_schema(schema: Mapping[str, Any], name: str = "") -> Any:
    """A small value matching a JSON schema (OpenAPI-style upper-case types too): what a router expects."""
    if schema.get("enum"):
        return schema["enum"][0]
    kind = str(schema.get("type", "object" if "properties" in schema else "string")).lower()
    if kind == "object":
        props = _schema(schema.get("properties"))
        return {key: example_from_schema(_schema(value), key) for key, value in props.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return "a simple request" if "reason" in name else "fake"


def shell_arguments(schema: Mapping[str, Any], command: str) -> dict[str, Any]:
    props = _schema(schema.get("properties"))
    required = set(schema.get("required", ()))
    arguments: dict[str, Any] = {}
    for key, prop in props.items():
        if key in ("command", "cmd", "script"):
            is_array = str(_schema(prop).get("type", "")).lower() == "array"
            arguments[key] = ["bash", "-lc", command] if is_array else command
        elif key == "description":
            arguments[key] = "Run a command for the test"
        elif key in required:
            arguments[key] = example_from_schema(_schema(prop), key)
    return arguments or {"command": command}


def plan_reply(conversation: Conversation, behaviour: Behaviour) -> Reply:
    slow = behaviour.slow_keyword in conversation.last_user_text

    def delay(text: str) -> float:  # spread the whole answer over slow_seconds
        return behaviour.slow_seconds / len(chunks(text)) if slow else 0.0

    if conversation.response_schema is not None:
        value = json.dumps(example_from_schema(conversation.response_schema))
        return Reply(value, None, delay(value), "json")
    if conversation.after_tool_result:
        return Reply(behaviour.after_tool_text, None, delay(behaviour.after_tool_text), "after_tool")
    shell = choose_shell_tool(conversation.tools)
    if behaviour.tool_keyword in conversation.last_user_text and shell is not None:
        name, schema = shell
        call = ToolCall(
            name,
            shell_arguments(schema, behaviour.tool_command),
            f"call_{uuid.uuid4().hex[:16]}",
            local_shell=name == "local_shell",
        )
        return Reply(behaviour.tool_intro, call, delay(behaviour.tool_intro), "tool")
    return Reply(behaviour.text, None, delay(behaviour.text), "text")


def chunks(text: str, count: int = 8) -> list[str]:
    """Split text into about ``count`` pieces on word boundaries (every piece non-empty)."""
    words = text.split(" ")
    size = max(1, -(-len(words) // count))
    groups = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    return [g + (" " if n < len(groups) - 1 else "") for n, g in enumerate(groups)] or [text]


def sse(data: Mapping[str, Any] | str, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def count_tokens(body: Any) -> int:
    return max(1, len(json.dumps(body, default=str)) // 4)


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def text_pieces(reply: Reply) -> Iterator[tuple[float, str]]:
    for chunk in chunks(reply.text):
        yield reply.delay, chunk
