"""The OpenCode event channel: SSE decoding, what the recorded stream of one turn reports, and following a real
HTTP event stream on loopback (chunked, late to start, dropped and reopened, a wrong answer, the pane gone).

The loopback server replays the recorded events of the real OpenCode 1.18.33 the way its server frames them
(``HTTP/1.1 200``, ``text/event-stream``, chunked, one ``data: {json}`` block per event); the real TUI's stream is
followed by the daemon in tests/agents/test_opencode_channel.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from imcodes_opencode.channel import OpenCodeEventChannel, SseDecoder, decode_event
from imcodes_opencode.events import OpenCodeEventDetector
from imcodes_opencode.report import OpenCodeReporter

from imcodes_core.states import Observation, SessionState
from imcodes_core.testing.channels import RecordingChannelSink

Jsonl = Callable[[str], list[dict[str, Any]]]
STREAM = "opencode-tui-event-stream.jsonl"
SESSION = "ses_df2a7b1e1ffeDsoeejrtni8zTC"
COMMAND = "echo fake-tool-ran > fake_tool_output.txt"


def sse_bytes(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events)


# -- decoding ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("piece", [1, 7, 4096, 1 << 20])
def test_the_decoder_gives_back_every_recorded_event_however_the_bytes_arrive(jsonl: Jsonl, piece: int) -> None:
    recorded = jsonl(STREAM)
    raw, decoder, decoded = sse_bytes(recorded), SseDecoder(), []
    for start in range(0, len(raw), piece):
        decoded += [decode_event(data) for data in decoder.feed(raw[start : start + piece])]
    assert decoded == recorded


def test_the_decoder_follows_the_sse_rules() -> None:
    decoder = SseDecoder()
    raw = b': comment\r\nevent: x\r\nid: 1\r\ndata: {"type":\r\ndata:"a"}\r\n\r\nretry: 5\n\ndata: tail'
    assert decoder.feed(raw) == ['{"type":\n"a"}']  # fields other than data ignored; an unfinished event waits
    assert decoder.feed(b"\n\n") == ["tail"]
    assert [decode_event(data) for data in ("[1]", "not json", '{"no": "type"}')] == [None, None, None]


def test_an_oversized_event_is_dropped_whole_and_the_next_one_kept() -> None:
    decoder = SseDecoder(max_line=100)
    assert decoder.feed(b"data: " + b"x" * 70 + b"\ndata: " + b"y" * 70 + b"\n\n") == []  # data over the limit
    assert decoder.feed(b"data: " + b"z" * 150) == []  # one runaway line, still coming
    assert decoder.feed(b"z" * 300) == [] and len(decoder._buffer) == 0  # not kept in memory
    assert decoder.feed(b"zz\n\ndata: ok\n\n") == ["ok"]
    assert decoder.dropped == 2


# -- what one turn reports -----------------------------------------------------------------------------------------


def test_the_recorded_turn_reports_its_chat_and_conversation(jsonl: Jsonl) -> None:
    sink = RecordingChannelSink()
    reporter = OpenCodeReporter(sink, clock=lambda: 1.0)
    for event in jsonl(STREAM):
        reporter.report(event)
    assert sink.kinds() == [
        "user.prompt",
        "tool.call",
        "permission.requested",
        "permission.answered",
        "tool.result",
        "assistant.delta",
        "assistant.delta",
        "assistant.final",
    ]
    assert sink.of("user.prompt") == [
        {"text": "please RUNTOOL", "id": "prt_20d584e34001BqmUKCFpAVgJWW", "source": "sse"}
    ]
    (call,) = sink.of("tool.call")
    assert call == {"tool": "bash", "id": "call_2af5672a7b31470f8631", "input": COMMAND}
    (asked,) = sink.of("permission.requested")
    assert (asked["id"], asked["tool"], asked["input"], asked["call"]) == (
        "per_20d5854b4001REAfmoEyRP6i1E",
        "bash",
        COMMAND,
        call["id"],
    )
    assert asked["question"] == f"Permission required: bash {COMMAND}"
    assert asked["choices"] == [{"key": "enter", "label": "Allow once"}, {"key": "esc", "label": "Reject"}]
    assert sink.of("permission.answered") == [{"id": asked["id"], "reply": "once"}]
    assert sink.of("tool.result") == [{"tool": "bash", "id": call["id"], "output": "(no output)"}]
    assert [d["text"] for d in sink.of("assistant.delta")] == ["Tool finished. ", "FAKE_TOOL_DONE"]
    assert sink.of("assistant.final") == [{"text": "Tool finished. FAKE_TOOL_DONE"}]  # once: idle twice
    assert sink.conversations == [SESSION]


def test_the_forwarded_events_are_what_the_detector_reads(jsonl: Jsonl) -> None:
    """Only state kinds reach the detector (no heartbeats, no text parts, no server.connected), dated now, and
    they give the same states as the whole stream: working, waiting for the permission, working, idle."""
    sink = RecordingChannelSink()
    reporter = OpenCodeReporter(sink, clock=lambda: 42.0)
    detector, states = OpenCodeEventDetector(), []
    for event in jsonl(STREAM):
        before = len(sink.events)
        reporter.report(event)
        if len(sink.events) > before:
            reading = detector.read(Observation("opencode", events=tuple(sink.events)))
            states.append(reading.state if reading else None)
    kinds = {event.kind for event in sink.events}
    assert kinds == {
        "tui.command.execute",
        "session.status",
        "session.idle",
        "message.part.updated",
        "message.part.delta",
        "permission.asked",
        "permission.replied",
    }
    assert all(e.at == 42.0 for e in sink.events)
    assert all(e.data["part"]["type"] == "tool" for e in sink.events if e.kind == "message.part.updated")
    deduped = [s for n, s in enumerate(states) if n == 0 or states[n - 1] != s]
    assert deduped == [
        SessionState.WORKING,
        SessionState.WAITING_PERMISSION,
        SessionState.WORKING,
        SessionState.IDLE,
    ]


def test_a_subagents_session_is_neither_the_conversation_nor_the_state(jsonl: Jsonl) -> None:
    sink = RecordingChannelSink()
    reporter = OpenCodeReporter(sink)
    child = "ses_child0000000000000000000"
    reporter.report({"type": "session.created", "properties": {"info": {"id": SESSION}}})
    reporter.report({"type": "session.status", "properties": {"sessionID": SESSION, "status": {"type": "busy"}}})
    reporter.report({"type": "session.created", "properties": {"info": {"id": child, "parentID": SESSION}}})
    reporter.report({"type": "session.status", "properties": {"sessionID": child, "status": {"type": "idle"}}})
    reporter.report({"type": "session.idle", "properties": {"sessionID": child}})
    assert sink.conversations == [SESSION]
    assert [e.data["status"]["type"] for e in sink.events] == ["busy"]
    reporter.report({"type": "session.created", "properties": {"info": {"id": "ses_new000000000000000000000"}}})
    assert sink.conversations == [SESSION, "ses_new000000000000000000000"]  # /new in the TUI: a new conversation


def test_text_parts_that_come_before_their_message_wait_for_its_role() -> None:
    sink = RecordingChannelSink()
    reporter = OpenCodeReporter(sink)
    part = {"id": "prt_1", "messageID": "msg_1", "type": "text", "text": "hello"}
    reporter.report({"type": "message.part.updated", "properties": {"part": part}})
    reporter.report({"type": "message.part.updated", "properties": {"part": {**part, "synthetic": True}}})
    assert sink.chats == []
    reporter.report({"type": "message.updated", "properties": {"info": {"id": "msg_1", "role": "user"}}})
    reporter.report({"type": "message.updated", "properties": {"info": {"id": "msg_1", "role": "user"}}})
    assert sink.of("user.prompt") == [{"text": "hello", "id": "prt_1", "source": "sse"}]


def test_a_failed_tool_reports_its_error() -> None:
    sink = RecordingChannelSink()
    state = {"status": "error", "input": {"filePath": "/x"}, "error": "no such file"}
    part = {"type": "tool", "tool": "read", "callID": "c1", "state": state}
    OpenCodeReporter(sink).report({"type": "message.part.updated", "properties": {"part": part}})
    assert sink.chats == [
        ("tool.call", {"tool": "read", "id": "c1", "input": '{"filePath": "/x"}'}),
        ("tool.result", {"tool": "read", "id": "c1", "output": "no such file", "error": True}),
    ]


# -- following a real HTTP event stream on loopback ----------------------------------------------------------------


class EventServer:
    """Serves ``GET /event`` like OpenCode's server: chunked SSE. Each connection gets the next script:
    ``("events", list, keep_open)`` or ``("status", code)``."""

    def __init__(self, scripts: list[tuple[Any, ...]]) -> None:
        self.scripts = scripts
        self.requests: list[str] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self.handlers: set[asyncio.Task[Any]] = set()
        self.closing = asyncio.Event()

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head.decode())
        script = self.scripts.pop(0) if self.scripts else ("status", 503)
        try:
            if script[0] == "status":
                writer.write(f"HTTP/1.1 {script[1]} Nope\r\nContent-Length: 0\r\n\r\n".encode())
                return
            writer.write(
                b"HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            for event in script[1]:
                block = b"data: " + json.dumps(event).encode() + b"\n\n"
                half = len(block) // 2  # an event split over two chunks, as large ones are
                for chunk in (block[:half], block[half:]):
                    writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
            if script[2]:
                with contextlib.suppress(TimeoutError):  # an open stream with nothing to say, until stop()
                    await asyncio.wait_for(self.closing.wait(), 30)
            writer.write(b"0\r\n\r\n")
        finally:
            await writer.drain()
            writer.close()

    async def stop(self) -> None:
        self.closing.set()  # streams held open end (not cancelled: asyncio 3.11 logs a cancelled handler)
        await asyncio.gather(*self.handlers, return_exceptions=True)
        self.handlers.clear()
        self.closing.clear()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def wait_until(sink: RecordingChannelSink, predicate: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():
            sink.changed.clear()
            await sink.changed.wait()


async def test_the_channel_waits_for_the_server_and_reopens_a_dropped_stream(jsonl: Jsonl) -> None:
    recorded = jsonl(STREAM)
    first, rest = recorded[:20], [recorded[0], *recorded[20:]]  # the reconnect starts with server.connected again
    server = EventServer([("status", 404), ("events", first, False), ("events", rest, True)])
    await server.start()
    port = server.port
    await server.stop()  # nothing listens yet: the TUI is still starting
    channel = OpenCodeEventChannel(port)
    sink = RecordingChannelSink()
    task = asyncio.create_task(channel.follow(sink))
    try:
        await asyncio.sleep(0.6)  # refused a few times, backing off
        assert channel.connections == 0 and not task.done()
        await server.start(port)
        await wait_until(sink, lambda: bool(sink.of("assistant.final")))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()
    assert len(server.requests) == 3 and channel.connections == 2  # the 404 was no stream
    assert server.requests[0].startswith("GET /event HTTP/1.1\r\nHost: 127.0.0.1:")
    assert sink.of("assistant.final") == [{"text": "Tool finished. FAKE_TOOL_DONE"}]
    assert sink.kinds().count("tool.call") == 1 and sink.conversations == [SESSION]
    assert "server.connected" not in [e.kind for e in sink.events]  # connecting late must not say "starting"


async def test_the_channel_ends_when_the_pane_is_gone() -> None:
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await process.wait()  # reaped: its pid names no process now
    channel = OpenCodeEventChannel(1, pane_pid=process.pid)  # port 1: nothing listens there
    await asyncio.wait_for(channel.follow(RecordingChannelSink()), 5)
    assert channel.connections == 0


async def test_an_answer_that_is_no_event_stream_is_retried(jsonl: Jsonl) -> None:
    server = EventServer([("status", 500), ("events", jsonl(STREAM)[:8], True)])
    await server.start()
    sink = RecordingChannelSink()
    channel = OpenCodeEventChannel(server.port)
    task = asyncio.create_task(channel.follow(sink))
    try:
        await wait_until(sink, lambda: bool(sink.events), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()
    assert sink.events[0].kind == "tui.command.execute" and len(server.requests) == 2


async def test_the_channel_authenticates_with_the_password_the_launch_wrote(jsonl: Jsonl, tmp_path: Path) -> None:
    secret = tmp_path / "opencode-password"
    secret.write_text("first-secret\n")
    recorded = jsonl(STREAM)
    server = EventServer([("events", recorded[:5], False), ("events", recorded[:5], True)])
    await server.start()
    channel = OpenCodeEventChannel(server.port, credentials=("opencode", secret))
    sink = RecordingChannelSink()
    task = asyncio.create_task(channel.follow(sink))
    try:
        await wait_until(sink, lambda: len(server.requests) == 1)
        secret.write_text("second-secret\n")  # the session was restarted with a new password: read afresh
        await wait_until(sink, lambda: len(server.requests) == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()
    sent = [base64.b64encode(f"opencode:{p}".encode()).decode() for p in ("first-secret", "second-secret")]
    assert len(server.requests) == 2
    for request, token in zip(server.requests, sent, strict=True):
        assert f"Authorization: Basic {token}\r\n" in request
