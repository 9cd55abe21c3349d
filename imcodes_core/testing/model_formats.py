"""Each API's wire format for one :class:`~imcodes_core.testing.model_wire.Reply`: streamed pieces and JSON bodies.

The shapes follow what the real services send (and what the real CLIs parse): Anthropic Messages SSE, OpenAI Chat
Completions chunks ending in ``[DONE]``, OpenAI Responses SSE, and Gemini ``streamGenerateContent?alt=sse``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from imcodes_core.testing.model_wire import Piece, Reply, chunks, new_id, now, sse, text_pieces

# -- Anthropic Messages -------------------------------------------------------------------------------------------


def _anthropic_usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.tool else "end_turn"


def anthropic_body(reply: Reply, model: str, input_tokens: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    if reply.tool:
        content.append(
            {
                "type": "tool_use",
                "id": reply.tool.call_id,
                "name": reply.tool.name,
                "input": dict(reply.tool.arguments),
            }
        )
    return {
        "id": new_id("msg_fake"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": _anthropic_usage(input_tokens, len(reply.text.split()) + 1),
    }


def anthropic_stream(reply: Reply, model: str, input_tokens: int) -> Iterator[Piece]:
    message = {**anthropic_body(reply, model, input_tokens), "content": [], "stop_reason": None}
    message["usage"] = _anthropic_usage(input_tokens, 1)
    yield 0.0, sse({"type": "message_start", "message": message}, "message_start")
    index = 0
    if reply.text:
        start = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        yield 0.0, sse(start, "content_block_start")
        yield 0.0, sse({"type": "ping"}, "ping")
        for delay, piece in text_pieces(reply):
            delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
            yield delay, sse(delta, "content_block_delta")
        yield 0.0, sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        index = 1
    if reply.tool:
        block = {"type": "tool_use", "id": reply.tool.call_id, "name": reply.tool.name, "input": {}}
        yield 0.0, sse({"type": "content_block_start", "index": index, "content_block": block}, "content_block_start")
        for piece in _json_halves(reply.tool.arguments):
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield 0.0, sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
        yield 0.0, sse({"type": "content_block_stop", "index": index}, "content_block_stop")
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
        "usage": {"output_tokens": len(reply.text.split()) + 1},
    }
    yield 0.0, sse(end, "message_delta")
    yield 0.0, sse({"type": "message_stop"}, "message_stop")


def _json_halves(arguments: Any) -> list[str]:
    text = json.dumps(arguments)
    middle = len(text) // 2
    return [text[:middle], text[middle:]]


# -- OpenAI Chat Completions --------------------------------------------------------------------------------------


def _chat_tool_calls(reply: Reply) -> list[dict[str, Any]]:
    if reply.tool is None:
        return []
    function = {"name": reply.tool.name, "arguments": json.dumps(reply.tool.arguments)}
    return [{"index": 0, "id": reply.tool.call_id, "type": "function", "function": function}]


def _chat_usage(input_tokens: int, reply: Reply) -> dict[str, int]:
    output = len(reply.text.split()) + 1
    return {"prompt_tokens": input_tokens, "completion_tokens": output, "total_tokens": input_tokens + output}


def chat_body(reply: Reply, model: str, input_tokens: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.tool:
        message["tool_calls"] = [{k: v for k, v in call.items() if k != "index"} for call in _chat_tool_calls(reply)]
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool else "stop"}
    return {
        "id": new_id("chatcmpl-fake"),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [choice],
        "usage": _chat_usage(input_tokens, reply),
    }


def chat_stream(reply: Reply, model: str, input_tokens: int, include_usage: bool) -> Iterator[Piece]:
    base = {"id": new_id("chatcmpl-fake"), "object": "chat.completion.chunk", "created": now(), "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    yield 0.0, chunk({"role": "assistant", "content": ""})
    for delay, piece in text_pieces(reply):
        yield delay, chunk({"content": piece})
    for call in _chat_tool_calls(reply):
        arguments = call["function"]["arguments"]
        opening = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        yield 0.0, chunk({"tool_calls": [opening]})
        for piece in _json_halves(json.loads(arguments)):
            yield 0.0, chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    yield 0.0, chunk({}, "tool_calls" if reply.tool else "stop")
    if include_usage:
        yield 0.0, sse({**base, "choices": [], "usage": _chat_usage(input_tokens, reply)})
    yield 0.0, sse("[DONE]")


# -- OpenAI Responses ---------------------------------------------------------------------------------------------


def _responses_items(reply: Reply) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if reply.text:
        part = {"type": "output_text", "text": reply.text, "annotations": []}
        items.append(
            {"id": new_id("msg_"), "type": "message", "status": "completed", "role": "assistant", "content": [part]}
        )
    if reply.tool and reply.tool.local_shell:
        action = {"type": "exec", "command": ["bash", "-lc", str(reply.tool.arguments.get("command", ""))]}
        items.append(
            {
                "id": new_id("lsh_"),
                "type": "local_shell_call",
                "call_id": reply.tool.call_id,
                "status": "completed",
                "action": action,
            }
        )
    elif reply.tool:
        items.append(
            {
                "id": new_id("fc_"),
                "type": "function_call",
                "status": "completed",
                "call_id": reply.tool.call_id,
                "name": reply.tool.name,
                "arguments": json.dumps(reply.tool.arguments),
            }
        )
    return items


def responses_body(reply: Reply, model: str, input_tokens: int, status: str = "completed") -> dict[str, Any]:
    output_tokens = len(reply.text.split()) + 1
    return {
        "id": new_id("resp_"),
        "object": "response",
        "created_at": now(),
        "status": status,
        "model": model,
        "output": _responses_items(reply) if status == "completed" else [],
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        },
    }


def responses_stream(reply: Reply, model: str, input_tokens: int) -> Iterator[Piece]:
    sequence = iter(range(1_000_000))

    def event(kind: str, **fields: Any) -> bytes:
        return sse({"type": kind, "sequence_number": next(sequence), **fields}, kind)

    final = responses_body(reply, model, input_tokens)
    opening = {**final, "status": "in_progress", "output": [], "usage": None}
    yield 0.0, event("response.created", response=opening)
    yield 0.0, event("response.in_progress", response=opening)
    for index, item in enumerate(final["output"]):
        if item["type"] == "message":
            ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
            yield (
                0.0,
                event(
                    "response.output_item.added",
                    output_index=index,
                    item={**item, "status": "in_progress", "content": []},
                ),
            )
            yield (
                0.0,
                event(
                    "response.content_part.added", **ids, part={"type": "output_text", "text": "", "annotations": []}
                ),
            )
            for delay, piece in text_pieces(reply):
                yield delay, event("response.output_text.delta", **ids, delta=piece)
            yield 0.0, event("response.output_text.done", **ids, text=reply.text)
            yield 0.0, event("response.content_part.done", **ids, part=item["content"][0])
        elif item["type"] == "function_call":
            yield (
                0.0,
                event(
                    "response.output_item.added",
                    output_index=index,
                    item={**item, "status": "in_progress", "arguments": ""},
                ),
            )
            for piece in _json_halves(json.loads(item["arguments"])):
                yield (
                    0.0,
                    event(
                        "response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=piece
                    ),
                )
            yield (
                0.0,
                event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    arguments=item["arguments"],
                ),
            )
        else:
            yield 0.0, event("response.output_item.added", output_index=index, item=item)
        yield 0.0, event("response.output_item.done", output_index=index, item=item)
    yield 0.0, event("response.completed", response=final)


# -- Gemini -------------------------------------------------------------------------------------------------------


def _gemini_usage(input_tokens: int, reply: Reply) -> dict[str, int]:
    output = len(reply.text.split()) + 1
    return {
        "promptTokenCount": input_tokens,
        "candidatesTokenCount": output,
        "totalTokenCount": input_tokens + output,
    }


def _gemini_chunk(parts: list[dict[str, Any]], model: str, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": model, "responseId": new_id("fake-"), **extra}


def gemini_body(reply: Reply, model: str, input_tokens: int) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": reply.text}] if reply.text and not reply.tool else []
    if reply.tool:
        parts = [
            {"text": reply.text},
            {"functionCall": {"name": reply.tool.name, "args": dict(reply.tool.arguments)}},
        ]
    return _gemini_chunk(parts, model, "STOP", usageMetadata=_gemini_usage(input_tokens, reply))


def gemini_stream(reply: Reply, model: str, input_tokens: int) -> Iterator[Piece]:
    pieces = chunks(reply.text) if reply.text else []
    for number, piece in enumerate(pieces):
        last = number == len(pieces) - 1 and reply.tool is None
        finish = "STOP" if last else None
        extra = {"usageMetadata": _gemini_usage(input_tokens, reply)} if last else {}
        yield (reply.delay if number else 0.0), sse(_gemini_chunk([{"text": piece}], model, finish, **extra))
    if reply.tool or not pieces:
        call = [{"functionCall": {"name": reply.tool.name, "args": dict(reply.tool.arguments)}}] if reply.tool else []
        usage = _gemini_usage(input_tokens, reply)
        yield 0.0, sse(_gemini_chunk(call or [{"text": ""}], model, "STOP", usageMetadata=usage))
