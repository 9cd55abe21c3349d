"""FakeModelEndpoint: every route over real HTTP on loopback, streams parsed the way clients parse them."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from imcodes_core.testing.model_endpoint import FakeModelEndpoint

KEY = "sk-secret-value-never-kept"


@pytest.fixture
def endpoint() -> Iterator[FakeModelEndpoint]:
    with FakeModelEndpoint(slow_seconds=0.8) as running:
        yield running


def post(endpoint: FakeModelEndpoint, path: str, body: Any, *, raw: bytes | None = None) -> tuple[int, str, bytes]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(
        endpoint.url + path, data=data, headers={"Content-Type": "application/json", "x-api-key": KEY}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def sse_events(payload: bytes) -> list[tuple[str | None, Any]]:
    """Parse server-sent events: (event name, JSON data or the raw string)."""
    events: list[tuple[str | None, Any]] = []
    for block in payload.decode().replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name = None
        data = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        text = "\n".join(data)
        events.append((name, text if text == "[DONE]" else json.loads(text)))
    return events


BASH = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {
        "type": "object",
        "properties": {
            "command": {"type": "string"},
            "description": {"type": "string"},
            "timeout": {"type": "number"},
        },
        "required": ["command"],
    },
}


def anthropic_request(*messages: dict[str, Any], stream: bool = True) -> dict[str, Any]:
    return {"model": "claude-fake", "max_tokens": 100, "stream": stream, "tools": [BASH], "messages": list(messages)}


def test_anthropic_stream_text(endpoint: FakeModelEndpoint) -> None:
    status, kind, payload = post(
        endpoint, "/v1/messages?beta=true", anthropic_request({"role": "user", "content": "hi"})
    )
    assert (status, kind) == (200, "text/event-stream")
    events = sse_events(payload)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert {"content_block_start", "content_block_delta", "content_block_stop"} <= set(names)
    assert all(name == data["type"] for name, data in events)
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == "Hello from the fake model. FAKE_OK"
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
    recorded = endpoint.requests[-1]
    assert (recorded.api, recorded.reply_kind, recorded.streamed) == ("anthropic", "text", True)
    assert recorded.headers["x-api-key"] == "***", "credentials must not be kept"


def test_anthropic_tool_use_then_answer_after_the_result(endpoint: FakeModelEndpoint) -> None:
    user = {"role": "user", "content": [{"type": "text", "text": "please RUNTOOL now"}]}
    system_after_user = {"role": "system", "content": "a reminder Claude sends after the user turn"}
    events = sse_events(post(endpoint, "/v1/messages", anthropic_request(user, system_after_user))[2])
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [block["type"] for block in starts] == ["text", "tool_use"]
    partial = "".join(
        d["delta"]["partial_json"] for n, d in events if d.get("delta", {}).get("type") == "input_json_delta"
    )
    assert json.loads(partial)["command"] == "echo FAKE_TOOL_OK"
    assert starts[1]["name"] == "Bash"
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"

    call_id = starts[1]["id"]
    assistant = {"role": "assistant", "content": [{"type": "tool_use", "id": call_id, "name": "Bash", "input": {}}]}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "FAKE_TOOL_OK"}]}
    events = sse_events(post(endpoint, "/v1/messages", anthropic_request(user, assistant, result))[2])
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert "FAKE_TOOL_DONE" in text
    assert [r.reply_kind for r in endpoint.requests] == ["tool", "after_tool"]


def test_anthropic_without_a_shell_tool_answers_in_text(endpoint: FakeModelEndpoint) -> None:
    body = {**anthropic_request({"role": "user", "content": "RUNTOOL"}, stream=False), "tools": []}
    status, _, payload = post(endpoint, "/v1/messages", body)
    message = json.loads(payload)
    assert status == 200 and message["type"] == "message" and message["stop_reason"] == "end_turn"
    assert message["content"] == [{"type": "text", "text": "Hello from the fake model. FAKE_OK"}]


def test_anthropic_count_tokens(endpoint: FakeModelEndpoint) -> None:
    status, _, payload = post(
        endpoint, "/v1/messages/count_tokens", anthropic_request({"role": "user", "content": "x"})
    )
    assert status == 200 and json.loads(payload)["input_tokens"] > 0


SHELL_FUNCTION = {
    "type": "function",
    "function": {
        "name": "run_shell_command",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
    },
}


def test_openai_chat_stream_with_tool_calls_and_usage(endpoint: FakeModelEndpoint) -> None:
    body = {
        "model": "qwen-fake",
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": [SHELL_FUNCTION],
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "RUNTOOL please"}],
    }
    events = sse_events(post(endpoint, "/v1/chat/completions", body)[2])
    assert events[-1] == (None, "[DONE]")
    chunks = [data for _, data in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    calls = [tc for c in chunks for choice in c["choices"] for tc in choice["delta"].get("tool_calls", [])]
    assert calls[0]["function"]["name"] == "run_shell_command" and calls[0]["id"].startswith("call_")
    arguments = json.loads("".join(tc["function"]["arguments"] for tc in calls))
    assert arguments == {"command": "echo FAKE_TOOL_OK"}
    finish = [choice["finish_reason"] for c in chunks for choice in c["choices"] if choice["finish_reason"]]
    assert finish == ["tool_calls"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_openai_chat_non_stream_after_a_tool_message(endpoint: FakeModelEndpoint) -> None:
    body = {
        "model": "m",
        "tools": [SHELL_FUNCTION],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "RUNTOOL"}]},
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "x"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ],
    }
    completion = json.loads(post(endpoint, "/chat/completions", body)[2])  # also served without /v1
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] == "The command ran. FAKE_TOOL_DONE"
    assert completion["choices"][0]["finish_reason"] == "stop"


def test_openai_chat_openclaw_exec_tool_and_its_injected_context(endpoint: FakeModelEndpoint) -> None:
    """OpenClaw calls its shell tool ``exec`` and sends a user message of its own context after the prompt and
    after a tool result: the prompt still decides, and a tool result followed by that context is still answered."""
    exec_tool = {"type": "function", "function": {**SHELL_FUNCTION["function"], "name": "exec"}}
    context = {"role": "user", "content": [{"type": "text", "text": "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nnone"}]}
    prompt = {"role": "user", "content": "[Working directory: /p]\n\nPlease RUNTOOL now"}
    asked = json.loads(
        post(endpoint, "/v1/chat/completions", {"tools": [exec_tool], "messages": [prompt, context]})[2]
    )
    (call,) = asked["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "exec"
    assert json.loads(call["function"]["arguments"]) == {"command": "echo FAKE_TOOL_OK"}
    result = {"role": "tool", "tool_call_id": call["id"], "content": "ok"}
    messages = [prompt, context, asked["choices"][0]["message"], result, context]
    done = json.loads(post(endpoint, "/v1/chat/completions", {"tools": [exec_tool], "messages": messages})[2])
    assert done["choices"][0]["message"]["content"] == "The command ran. FAKE_TOOL_DONE"
    assert [r.reply_kind for r in endpoint.requests] == ["tool", "after_tool"]


def responses_request(*items: dict[str, Any], tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": "codex-fake", "stream": True, "instructions": "x", "input": list(items), "tools": tools}


def test_openai_responses_stream_text_in_order(endpoint: FakeModelEndpoint) -> None:
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}
    events = sse_events(post(endpoint, "/v1/responses", responses_request(user, tools=[]))[2])
    names = [name for name, _ in events]
    assert names == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * names.count("response.output_text.delta"),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    completed = events[-1][1]["response"]
    assert completed["status"] == "completed" and completed["usage"]["total_tokens"] > 0
    assert completed["output"][0]["content"][0]["text"] == "Hello from the fake model. FAKE_OK"


def test_openai_responses_function_call_with_an_array_command(endpoint: FakeModelEndpoint) -> None:
    shell = {
        "type": "function",
        "name": "shell",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "array", "items": {"type": "string"}}, "workdir": {"type": "string"}},
            "required": ["command"],
        },
    }
    user = {"role": "user", "content": "RUNTOOL"}
    events = sse_events(post(endpoint, "/v1/responses", responses_request(user, tools=[shell]))[2])
    done = [d["arguments"] for n, d in events if n == "response.function_call_arguments.done"]
    assert json.loads(done[0]) == {"command": ["bash", "-lc", "echo FAKE_TOOL_OK"]}
    item = events[-1][1]["response"]["output"][-1]
    assert item["type"] == "function_call" and item["name"] == "shell"
    output = {"type": "function_call_output", "call_id": item["call_id"], "output": "FAKE_TOOL_OK"}
    events = sse_events(post(endpoint, "/v1/responses", responses_request(user, item, output, tools=[shell]))[2])
    assert "FAKE_TOOL_DONE" in events[-1][1]["response"]["output"][0]["content"][0]["text"]


def test_openai_responses_local_shell_only(endpoint: FakeModelEndpoint) -> None:
    body = {**responses_request(tools=[{"type": "local_shell"}]), "input": "RUNTOOL", "stream": False}
    response = json.loads(post(endpoint, "/v1/responses", body)[2])
    call = response["output"][-1]
    assert call["type"] == "local_shell_call" and call["action"]["command"][-1] == "echo FAKE_TOOL_OK"


GEMINI_TOOLS = [
    {
        "functionDeclarations": [
            {
                "name": "read_file",
                "parametersJsonSchema": {"type": "object", "properties": {"path": {"type": "string"}}},
            },
            {
                "name": "run_shell_command",
                "parametersJsonSchema": {
                    "type": "object",
                    "properties": {"command": {"type": "string"}, "description": {"type": "string"}},
                    "required": ["command"],
                },
            },
        ]
    }
]


def gemini(endpoint: FakeModelEndpoint, method: str, body: dict[str, Any]) -> tuple[int, str, bytes]:
    suffix = "?alt=sse" if method == "streamGenerateContent" else ""
    return post(endpoint, f"/v1beta/models/gemini-fake:{method}{suffix}", body)


def test_gemini_stream_text_then_tool_then_answer(endpoint: FakeModelEndpoint) -> None:
    hello = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}], "tools": GEMINI_TOOLS}
    events = sse_events(gemini(endpoint, "streamGenerateContent", hello)[2])
    parts = [p for _, d in events for p in d["candidates"][0]["content"]["parts"]]
    assert "".join(p["text"] for p in parts) == "Hello from the fake model. FAKE_OK"
    assert events[-1][1]["candidates"][0]["finishReason"] == "STOP" and "usageMetadata" in events[-1][1]

    ask = {"contents": [{"role": "user", "parts": [{"text": "RUNTOOL"}]}], "tools": GEMINI_TOOLS}
    events = sse_events(gemini(endpoint, "streamGenerateContent", ask)[2])
    calls = [
        p["functionCall"] for _, d in events for p in d["candidates"][0]["content"]["parts"] if "functionCall" in p
    ]
    assert calls == [
        {
            "name": "run_shell_command",
            "args": {"command": "echo FAKE_TOOL_OK", "description": "Run a command for the test"},
        }
    ]

    answered = {
        "contents": [
            *ask["contents"],
            {"role": "model", "parts": [{"functionCall": calls[0]}]},
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "run_shell_command", "response": {"output": "ok"}}}],
            },
        ],
        "tools": GEMINI_TOOLS,
    }
    events = sse_events(gemini(endpoint, "streamGenerateContent", answered)[2])
    assert "FAKE_TOOL_DONE" in "".join(
        p.get("text", "") for _, d in events for p in d["candidates"][0]["content"]["parts"]
    )


def test_gemini_router_gets_json_matching_its_schema(endpoint: FakeModelEndpoint) -> None:
    schema = {
        "type": "object",
        "properties": {
            "complexity_reasoning": {"type": "string"},
            "complexity_score": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        "required": ["complexity_reasoning", "complexity_score"],
    }
    body = {
        "contents": [{"role": "user", "parts": [{"text": "RUNTOOL"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema},
    }
    result = json.loads(gemini(endpoint, "generateContent", body)[2])
    answer = json.loads(result["candidates"][0]["content"]["parts"][0]["text"])
    assert set(answer) == {"complexity_reasoning", "complexity_score"}
    assert isinstance(answer["complexity_score"], int) and 1 <= answer["complexity_score"] <= 100
    assert endpoint.requests[-1].reply_kind == "json"


def test_gemini_count_tokens_and_unknown_method(endpoint: FakeModelEndpoint) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "count me"}]}]}
    status, _, payload = gemini(endpoint, "countTokens", body)
    assert status == 200 and json.loads(payload)["totalTokens"] > 0
    status, _, payload = gemini(endpoint, "embedEverything", body)
    assert status == 404 and "unsupported" in json.loads(payload)["error"]["message"]


def test_model_lists(endpoint: FakeModelEndpoint) -> None:
    with urllib.request.urlopen(endpoint.url + "/v1/models", timeout=5) as response:
        listing = json.loads(response.read())
    assert listing["object"] == "list" and [m["id"] for m in listing["data"]] == ["fake-model"]
    with urllib.request.urlopen(endpoint.url + "/v1beta/models", timeout=5) as response:
        assert json.loads(response.read())["models"][0]["name"] == "models/fake-model"


def test_slow_keyword_streams_over_time(endpoint: FakeModelEndpoint) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    body = json.dumps(anthropic_request({"role": "user", "content": "answer SLOWLY"}))
    started = time.monotonic()
    connection.request("POST", "/v1/messages", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    first = response.read1(64)
    first_at = time.monotonic() - started
    rest = response.read()
    total = time.monotonic() - started
    connection.close()
    assert first.startswith(b"event: message_start")
    assert first_at < 0.5, "the stream must start at once"
    assert total >= 0.7, "the slow keyword must spread the answer over slow_seconds"
    assert b"message_stop" in rest


def test_bad_requests_get_clear_errors_and_are_recorded(endpoint: FakeModelEndpoint) -> None:
    status, kind, payload = post(endpoint, "/v1/messages", None, raw=b"{not json")
    assert status == 400 and kind == "application/json"
    assert "not JSON" in json.loads(payload)["error"]["message"]
    status, _, payload = post(endpoint, "/v1/messages", ["a", "list"])
    assert status == 400 and "JSON object" in json.loads(payload)["error"]["message"]
    status, _, _ = post(endpoint, "/v2/nothing", {})
    assert status == 404
    assert [r.reply_kind for r in endpoint.requests] == ["error", "error", "error"]


def test_keep_alive_serves_two_streams_on_one_connection(endpoint: FakeModelEndpoint) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    for _ in range(2):
        body = json.dumps(anthropic_request({"role": "user", "content": "hi"}))
        connection.request("POST", "/v1/messages", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert sse_events(response.read())[-1][0] == "message_stop"
    connection.close()
    assert len(endpoint.requests) == 2


def test_wait_for_and_lifecycle() -> None:
    endpoint = FakeModelEndpoint()
    with pytest.raises(RuntimeError, match="not running"):
        _ = endpoint.port
    with endpoint:
        post(endpoint, "/v1/messages", anthropic_request({"role": "user", "content": "hi"}))
        assert endpoint.wait_for(lambda r: r.api == "anthropic", timeout=2).reply_kind == "text"
        with pytest.raises(TimeoutError, match="1 received"):
            endpoint.wait_for(lambda r: r.api == "gemini", timeout=0.2)
        env = endpoint.agent_env()
        assert env["OPENAI_BASE_URL"] == f"{endpoint.url}/v1" and env["ANTHROPIC_BASE_URL"] == endpoint.url
        port = endpoint.port
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
