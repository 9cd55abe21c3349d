from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcodes_core.protocol import (
    MAX_TEXT_FRAME_BYTES,
    BinaryKind,
    FrameError,
    decode_binary,
    encode_binary,
    encode_frame,
    parse_frame,
)
from imcodes_core.protocol.frames import (
    FRAME_TYPES,
    MAX_PROMPT_CHARS,
    PermissionAnswer,
    SessionInterrupt,
    SessionPrompt,
    TerminalInput,
    TimelineAppended,
)


def test_round_trip_of_a_command() -> None:
    frame = TerminalInput(id="c1", machine="m1", session="shell-1", data="ls\r")
    parsed = parse_frame(encode_frame(frame))
    assert parsed == frame


def test_timeline_event_round_trip() -> None:
    raw = json.dumps(
        {
            "v": 1,
            "type": "timeline.event",
            "event": {"session": "s1", "epoch": 1, "seq": 3, "at": 1.5, "kind": "state", "data": {"state": "idle"}},
        }
    )
    parsed = parse_frame(raw)
    assert isinstance(parsed, TimelineAppended)
    assert parsed.event.seq == 3


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "malformed"),
        ("[1, 2]", "malformed"),
        ('{"type": "ping"}', "bad_version"),
        ('{"v": 2, "type": "ping"}', "bad_version"),
        ('{"v": 1, "type": "rm -rf"}', "unknown_type"),
        ('{"v": 1}', "unknown_type"),
        ('{"v": 1, "type": "terminal.input", "session": "../etc", "data": "x"}', "invalid"),
        ('{"v": 1, "type": "terminal.resize", "session": "s", "cols": 0, "rows": 5}', "invalid"),
        ('{"v": 1, "type": "ping", "surprise": true}', "invalid"),
    ],
)
def test_bad_frames_are_refused_with_a_code(raw: str, code: str) -> None:
    with pytest.raises(FrameError) as info:
        parse_frame(raw)
    assert info.value.code == code


def test_error_never_echoes_the_payload() -> None:
    secret = "sk-ant-" + "x" * 40
    with pytest.raises(FrameError) as info:
        parse_frame(json.dumps({"v": 1, "type": "terminal.input", "session": "s", "data": 5, "token": secret}))
    assert secret not in str(info.value)


def test_oversized_frame_is_refused_before_parsing() -> None:
    raw = '{"v": 1, "type": "ping", "pad": "' + "x" * MAX_TEXT_FRAME_BYTES + '"}'
    with pytest.raises(FrameError) as info:
        parse_frame(raw)
    assert info.value.code == "too_large"


def test_allowed_types_per_peer() -> None:
    with pytest.raises(FrameError) as info:
        parse_frame('{"v": 1, "type": "daemon.hello", "machine": "m", "id": "x1"}', allowed=frozenset({"ping"}))
    assert info.value.code == "not_allowed"
    assert info.value.ref == "x1"


def test_every_frame_type_is_known() -> None:
    assert {"ping", "ack", "daemon.hello", "terminal.input", "timeline.replay", "machines"} <= FRAME_TYPES


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
        max_leaves=12,
    ),
    st.sampled_from(sorted(FRAME_TYPES)),
)
def test_fuzzed_frames_either_parse_or_raise_frame_error(payload: object, kind: str) -> None:
    obj = (
        {"v": 1, "type": kind, "payload": payload}
        if not isinstance(payload, dict)
        else {**payload, "v": 1, "type": kind}
    )
    with contextlib.suppress(FrameError):
        parse_frame(json.dumps(obj))


@given(st.binary(max_size=300))
def test_fuzzed_binary_frames_never_crash(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        decode_binary(data)


def test_binary_round_trip() -> None:
    raw = encode_binary(BinaryKind.OUTPUT, "m1/shell-1", b"\x1b[31mhi\r\n")
    frame = decode_binary(raw)
    assert (frame.kind, frame.stream, frame.payload) == (BinaryKind.OUTPUT, "m1/shell-1", b"\x1b[31mhi\r\n")


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x01\x01", b"\x02\x01\x00\x01a", b"\x01\x09\x00\x01a", b"\x01\x01\x00\x05ab", b"\x01\x01\x00\x01\xff"],
)
def test_malformed_binary_frames_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_binary(raw)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "session.rename", "session": "s1", "label": "a\u0000b"},
        {"type": "session.start", "driver": "shell", "cwd": "/tmp/\ud800"},
        {
            "type": "timeline.event",
            "event": {
                "session": "s",
                "epoch": 1,
                "seq": 1,
                "at": 0,
                "kind": "k",
                "data": {"nested": ["ok", {"bad": "\u0000"}]},
            },
        },
        {"type": "timeline.event", "event": {"session": "s", "epoch": 2**31, "seq": 1, "at": 0, "kind": "k"}},
    ],
)
def test_what_postgresql_cannot_store_is_refused_as_invalid(frame: dict[str, object]) -> None:
    with pytest.raises(FrameError) as refused:
        parse_frame(json.dumps({"v": 1, **frame}))
    assert refused.value.code == "invalid"


def test_nul_stays_allowed_in_terminal_input() -> None:
    frame = parse_frame(json.dumps({"v": 1, "type": "terminal.input", "session": "s", "data": "\u0000"}))
    assert frame.data == "\x00"  # type: ignore[attr-defined]  # Ctrl-Space is a real key


def test_prompt_answer_and_interrupt_frames_round_trip() -> None:
    prompt = parse_frame(json.dumps({"v": 1, "type": "session.prompt", "id": "p1", "session": "s", "text": "fix it"}))
    assert isinstance(prompt, SessionPrompt) and prompt.text == "fix it" and prompt.id == "p1"
    answer = parse_frame(
        json.dumps({"v": 1, "type": "permission.answer", "id": "a1", "machine": "m1", "session": "s", "choice": "1"})
    )
    assert isinstance(answer, PermissionAnswer) and answer.choice == "1" and answer.machine == "m1"
    interrupt = parse_frame(json.dumps({"v": 1, "type": "session.interrupt", "id": "i1", "session": "s"}))
    assert isinstance(interrupt, SessionInterrupt)
    assert parse_frame(encode_frame(prompt)) == prompt


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "session.prompt", "session": "s", "text": ""},
        {"type": "session.prompt", "session": "s", "text": "x" * (MAX_PROMPT_CHARS + 1)},
        {"type": "session.prompt", "session": "s", "text": "a\u0000b"},
        {"type": "session.prompt", "session": "s", "text": "\ud800"},
        {"type": "permission.answer", "session": "s", "choice": ""},
        {"type": "permission.answer", "session": "s", "choice": "y" * 65},
        {"type": "session.interrupt", "session": "../x"},
    ],
)
def test_bad_prompt_frames_are_invalid(frame: dict[str, object]) -> None:
    with pytest.raises(FrameError) as refused:
        parse_frame(json.dumps({"v": 1, "id": "x1", **frame}))
    assert refused.value.code == "invalid" and refused.value.ref == "x1"


def test_a_64_kib_prompt_is_accepted() -> None:
    frame = parse_frame(
        json.dumps({"v": 1, "type": "session.prompt", "session": "s", "text": "é" * MAX_PROMPT_CHARS})
    )
    assert isinstance(frame, SessionPrompt) and len(frame.text) == MAX_PROMPT_CHARS
