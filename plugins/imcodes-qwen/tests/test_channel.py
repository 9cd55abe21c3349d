"""The json-file channel over recorded ``--json-file`` streams of Qwen Code 0.24.4's TUI: chat events, state
events, the conversation id, history on adoption, and the end of the stream. The channel tails a real file that
the test appends the recorded lines to, as Qwen does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imcodes_qwen.channel import QwenChat, QwenJsonFileChannel
from imcodes_qwen.events import QwenEventDetector

from imcodes_core.channels import ChannelSink, SessionChannel
from imcodes_core.states import Observation, SessionState
from imcodes_core.testing.channels import RecordingChannelSink

TOOL_TURN = "qwen-tui-json-file-events.jsonl"  # a prompt, can_use_tool, the approval, the tool result, the answer
TEXT_TURN = "qwen-tui-json-file-text-turn.jsonl"  # session_start, a text turn, session_end
SPLIT_TURN = "qwen-tui-json-file-tool-turn.jsonl"  # text, then a tool call, as two assistant lines of one message
CONVERSATION = "31aa30a9-5522-40b5-8d5e-d4903d5f74ce"
Records = Callable[[str], list[dict[str, Any]]]


def chat_of(records: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    chat = QwenChat()
    return [event for record in records for event in chat.read(record)] + chat.flush()


def test_the_tool_turn_reads_as_the_chat_a_person_follows(jsonl: Records) -> None:
    events = chat_of(jsonl(TOOL_TURN))
    assert [kind for kind, _ in events] == [
        "user.prompt",
        "tool.call",
        "permission.requested",
        "permission.answered",
        "tool.result",
        "assistant.delta",
        "assistant.final",
    ]
    data = dict(events)
    assert data["user.prompt"] == {"text": "please RUNTOOL", "source": "json-file"}
    call = data["tool.call"]
    assert call["tool"] == "run_shell_command" and call["id"] == "call_160f3cc32cd149b0838a"
    assert json.loads(call["input"])["command"] == "echo fake-tool-ran > fake_tool_output.txt"
    asked = data["permission.requested"]
    assert asked["tool"] == "run_shell_command" and asked["id"] == call["id"]
    assert "echo fake-tool-ran" in asked["input"] and asked["suggestions"] == ["Allow Command", "Deny"]
    assert data["permission.answered"] == {"request_id": asked["request_id"], "allowed": True}
    result = data["tool.result"]
    assert result["tool"] == "run_shell_command" and result["id"] == call["id"] and not result["is_error"]
    assert "Exit Code: 0" in result["output"]
    assert data["assistant.delta"]["text"] == "Tool finished. FAKE_TOOL_DONE"  # the streamed pieces, joined
    assert data["assistant.final"] == {"text": "Tool finished. FAKE_TOOL_DONE"}


def test_text_before_a_tool_call_is_no_answer(jsonl: Records) -> None:
    events = chat_of(jsonl(SPLIT_TURN))
    assert [kind for kind, _ in events] == [
        "user.prompt",
        "assistant.delta",  # "I will run a shell command.", streamed: shown, but no answer
        "tool.call",
        "permission.requested",
        "permission.answered",
        "tool.result",
        "assistant.delta",
        "assistant.final",
    ]
    assert events[1][1]["text"] == "I will run a shell command."
    assert events[-1][1] == {"text": "The command ran. FAKE_TOOL_DONE"}


def test_odd_messages_make_no_chat_and_no_error() -> None:
    odd: list[dict[str, Any]] = [
        {},
        {"type": "user", "message": {"content": "not a list"}},
        {"type": "assistant", "message": {"content": [{"type": "text"}]}},
        {"type": "control_request", "request": {"subtype": "interrupt"}},
        {"type": "control_response", "response": {"response": {}}},
        {"type": "stream_event", "event": {"type": "content_block_delta", "delta": None}},
        {"type": "result", "subtype": "success"},
    ]
    assert chat_of(odd) == []


async def follow_in_background(channel: SessionChannel, sink: ChannelSink) -> asyncio.Task[None]:
    task = asyncio.create_task(channel.follow(sink))
    await asyncio.sleep(0.05)  # the channel has looked at the file once
    return task


def append(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.writelines(json.dumps(record) + "\n" for record in records)


async def test_the_channel_follows_the_file_qwen_appends_to(tmp_path: Path, jsonl: Records) -> None:
    path, sink = tmp_path / "events.jsonl", RecordingChannelSink()
    records = jsonl(TOOL_TURN)
    task = await follow_in_background(QwenJsonFileChannel(path, fast=0.01, slow=0.05), sink)

    append(path, records[:10])  # up to can_use_tool: the detectors see a permission request
    await sink.until(lambda: "permission.requested" in sink.kinds())
    reading = QwenEventDetector().read(Observation("qwen", events=tuple(sink.events)))
    assert reading is not None and reading.state is SessionState.WAITING_PERMISSION
    assert "run_shell_command" in reading.evidence
    assert sink.conversations[-1] == CONVERSATION

    append(path, records[10:])
    await sink.until(lambda: "assistant.final" in sink.kinds())
    assert sink.kinds() == [kind for kind, _ in chat_of(records)]
    reading = QwenEventDetector().read(Observation("qwen", events=tuple(sink.events)))
    assert reading is not None and reading.state is SessionState.IDLE
    # every message reaches the detectors, except the per-token deltas (nothing to learn from them)
    deltas = [r for r in records if r.get("type") == "stream_event" and r["event"]["type"] == "content_block_delta"]
    assert len(sink.events) == len(records) - len(deltas)
    assert not task.done()  # no session_end yet: the channel goes on
    task.cancel()


async def test_the_channel_ends_with_the_session(tmp_path: Path, jsonl: Records) -> None:
    path, sink = tmp_path / "events.jsonl", RecordingChannelSink()
    records = jsonl(TEXT_TURN)
    task = await follow_in_background(QwenJsonFileChannel(path, fast=0.01, slow=0.05), sink)
    append(path, records)
    await asyncio.wait_for(task, 5)
    assert [kind for kind, _ in sink.chats] == ["user.prompt", "assistant.delta", "assistant.final"]
    assert sink.chats[-1][1] == {"text": "Hello from the fake model. FAKE_OK"}
    reading = QwenEventDetector().read(Observation("qwen", events=tuple(sink.events)))
    assert reading is not None and reading.state is SessionState.EXITED
    assert set(sink.conversations) == {records[0]["session_id"]}


async def test_lines_there_before_the_channel_started_are_history(tmp_path: Path, jsonl: Records) -> None:
    # a restarted daemon adopting the session: state and conversation from the file, the timeline not repeated
    path, sink = tmp_path / "events.jsonl", RecordingChannelSink()
    records = jsonl(TOOL_TURN)
    append(path, records[:10])
    task = await follow_in_background(QwenJsonFileChannel(path, fast=0.01, slow=0.05), sink)
    assert sink.chats == [] and sink.conversations == [CONVERSATION]
    reading = QwenEventDetector().read(Observation("qwen", events=tuple(sink.events)))
    assert reading is not None and reading.state is SessionState.WAITING_PERMISSION
    append(path, records[10:])  # what comes after the adoption is new: in the timeline
    await sink.until(lambda: "assistant.final" in sink.kinds())
    assert sink.kinds() == ["permission.answered", "tool.result", "assistant.delta", "assistant.final"]
    task.cancel()

    ended, late = tmp_path / "ended.jsonl", RecordingChannelSink()
    append(ended, jsonl(TEXT_TURN))
    await asyncio.wait_for(QwenJsonFileChannel(ended).follow(late), 5)  # it ended before the adoption
    assert late.chats == [] and late.events[-1].data["subtype"] == "session_end"


async def test_garbage_lines_are_skipped(tmp_path: Path, jsonl: Records) -> None:
    path, sink = tmp_path / "events.jsonl", RecordingChannelSink()
    task = await follow_in_background(QwenJsonFileChannel(path, fast=0.01, slow=0.05), sink)
    with path.open("a", encoding="utf-8") as file:
        file.write('not json\n[1, 2]\n"text"\n')
    append(path, jsonl(TOOL_TURN)[:2])
    await sink.until(lambda: "user.prompt" in sink.kinds())
    assert [e.kind for e in sink.events] == ["system", "user"]
    task.cancel()
