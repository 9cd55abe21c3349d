"""session.start's resume and SessionInfo's conversation: the agent's own conversation id, checked on receipt."""

from __future__ import annotations

import json

import pytest

from imcodes_core.protocol import FrameError, encode_frame, parse_frame
from imcodes_core.protocol.frames import SessionInfo, SessionStart, SessionUpdated

CLAUDE_ID = "e2d26fa1-6d70-4832-ae3b-de93bf04cf44"  # as Claude's hooks report session_id (fixtures)


def _start(**fields: object) -> str:
    return json.dumps({"v": 1, "type": "session.start", "id": "c1", "driver": "claude", **fields})


def test_resume_round_trips_and_defaults_to_none() -> None:
    frame = parse_frame(_start(resume=CLAUDE_ID))
    assert isinstance(frame, SessionStart)
    assert frame.resume == CLAUDE_ID
    assert parse_frame(encode_frame(frame)) == frame
    plain = parse_frame(_start())
    assert isinstance(plain, SessionStart) and plain.resume is None
    assert "resume" not in json.loads(encode_frame(plain))  # absent, not null, on the wire


@pytest.mark.parametrize(
    "bad",
    [
        "",  # an empty field in the dialog is sent as no resume at all
        "x" * 257,
        "--dangerously-skip-permissions",  # would read as a CLI flag after --resume
        "abc def",
        "abc\x00",
        "abc\ud800",
        "abc\x1b[2J",
    ],
)
def test_resume_refuses_what_cannot_be_a_conversation_id(bad: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(_start(resume=bad))
    assert caught.value.code == "invalid"
    assert "resume" in str(caught.value)
    assert bad[:20] not in str(caught.value) or bad == ""  # the message never echoes the payload


def test_resume_of_256_characters_is_accepted() -> None:
    frame = parse_frame(_start(resume="a" * 256))
    assert isinstance(frame, SessionStart) and frame.resume == "a" * 256


def test_session_info_carries_the_conversation() -> None:
    info = SessionInfo(name="claude-1a2b", driver="claude", conversation=CLAUDE_ID)
    frame = parse_frame(encode_frame(SessionUpdated(session=info)))
    assert isinstance(frame, SessionUpdated)
    assert frame.session.conversation == CLAUDE_ID
    assert SessionInfo(name="s", driver="shell").conversation is None
    stored = SessionInfo.model_validate_json(SessionInfo(name="s", driver="shell").model_dump_json())
    assert stored.conversation is None  # rows stored before the field existed read back the same way
    with pytest.raises(ValueError):
        SessionInfo(name="s", driver="claude", conversation="-x")
