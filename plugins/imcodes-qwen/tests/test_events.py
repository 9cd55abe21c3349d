"""The Qwen Code event detector over the recorded ``--json-file`` stream of a turn with a tool call (golden)."""

from collections.abc import Callable
from typing import Any

import pytest
from imcodes_qwen.events import QwenEventDetector, json_file_event

from imcodes_core.states import Observation, SessionState
from imcodes_core.testing.contracts import StateDetectorContract

S = SessionState
STATE_CODES = {"-": None, "D": S.IDLE, "W": S.WORKING, "P": S.WAITING_PERMISSION}
# session_start (no opinion: the TUI may still be initializing, the screen tells); the prompt and a streamed tool
# call; can_use_tool (9) answered (10); the tool result and the streamed final answer and its assistant line (17);
# its message_stop (18) ends the turn.
EXPECTED = "-" + "W" * 8 + "P" + "W" * 8 + "D"


class TestQwenEventDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> QwenEventDetector:
        return QwenEventDetector()

    @pytest.fixture
    def golden_cases(
        self, jsonl: Callable[[str], list[dict[str, Any]]]
    ) -> list[tuple[Observation, SessionState | None]]:
        records = jsonl("qwen-tui-json-file-events.jsonl")
        events = [json_file_event(record, float(n)) for n, record in enumerate(records)]
        assert len(events) == len(EXPECTED)
        cases: list[tuple[Observation, SessionState | None]] = [(Observation("qwen"), None)]
        for count, code in enumerate(EXPECTED, start=1):
            cases.append((Observation("qwen", events=tuple(events[:count])), STATE_CODES[code]))
        return cases


def test_the_permission_request_names_the_command(jsonl: Callable[[str], list[dict[str, Any]]]) -> None:
    records = jsonl("qwen-tui-json-file-events.jsonl")
    events = tuple(json_file_event(record, float(n)) for n, record in enumerate(records[:10]))
    reading = QwenEventDetector().read(Observation("qwen", events=events))
    assert reading is not None and reading.state is S.WAITING_PERMISSION
    assert "run_shell_command" in reading.evidence and "echo fake-tool-ran" in reading.evidence


def test_text_before_a_tool_call_does_not_end_the_turn(jsonl: Callable[[str], list[dict[str, Any]]]) -> None:
    # Qwen writes the message's text ("I will run a shell command.") as an assistant line of its own, then the tool
    # call; only message_stop ends the message, and one with a tool call ends no turn
    records = jsonl("qwen-tui-json-file-tool-turn.jsonl")
    detector, seen = QwenEventDetector(), []
    for count in range(1, len(records) + 1):
        reading = detector.read(Observation("qwen", events=tuple(json_file_event(r, 0.0) for r in records[:count])))
        state = reading.state if reading is not None else None
        if state is not None and (not seen or seen[-1] != state):
            seen.append(state)
    assert seen == [S.WORKING, S.WAITING_PERMISSION, S.WORKING, S.IDLE, S.EXITED]
