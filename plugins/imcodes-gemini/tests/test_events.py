"""The Gemini CLI event detector over the recorded hook payloads, replayed per session (golden)."""

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from imcodes_gemini.events import GeminiEventDetector, hook_event

from imcodes_core.states import AgentEvent, Observation, SessionState
from imcodes_core.testing.contracts import StateDetectorContract

S = SessionState
W, D, P, X, B = S.WORKING, S.IDLE, S.WAITING_PERMISSION, S.EXITED, S.STARTING  # D: done (idle), B: booting
# The state after each recorded hook event of each Gemini session. SessionStart fires before the input box is
# painted, so it says starting (weakly) and the screen decides when Gemini is ready. In 73d7f6ea the first request
# was cancelled with Esc: Gemini fires no hook for that, so the hooks still say working until the next BeforeAgent.
EXPECTED = {
    "73d7f6ea": [B, W, W, W, W, W, W, W, W, W, D, W, W, W, W, W, W, P, W, W, W, W, W, W, D, X, X, X],
    "e8b9d184": [B, W, W, W, W, W, W, W, W, W, W, W, W, D, X],
    "9e32d934": [W, W, W, W, W, W, W, W, W, W, D],
    "166e2914": [X],
}


def sessions(records: list[dict[str, Any]]) -> dict[str, list[AgentEvent]]:
    grouped: dict[str, list[AgentEvent]] = defaultdict(list)
    for record in records:
        assert record["payload"]["hook_event_name"] == record["event"]
        grouped[record["payload"]["session_id"][:8]].append(hook_event(record["payload"], record["t"]))
    return dict(grouped)


class TestGeminiEventDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> GeminiEventDetector:
        return GeminiEventDetector()

    @pytest.fixture
    def golden_cases(
        self, jsonl: Callable[[str], list[dict[str, Any]]]
    ) -> list[tuple[Observation, SessionState | None]]:
        grouped = sessions(jsonl("gemini-hooks.jsonl"))
        assert grouped.keys() == EXPECTED.keys()
        cases: list[tuple[Observation, SessionState | None]] = [(Observation("gemini"), None)]
        for session, states in EXPECTED.items():
            events = grouped[session]
            assert len(events) == len(states), session
            cases += [(Observation("gemini", events=tuple(events[:n])), s) for n, s in enumerate(states, start=1)]
        return cases


def test_the_permission_notification_names_the_command(jsonl: Callable[[str], list[dict[str, Any]]]) -> None:
    events = sessions(jsonl("gemini-hooks.jsonl"))["73d7f6ea"]
    reading = GeminiEventDetector().read(Observation("gemini", events=tuple(events[:18])))
    assert reading is not None and reading.state is P
    assert "echo fake-tool-ran > fake_tool_output.txt" in reading.evidence


def test_precompress_alone_says_nothing() -> None:
    assert GeminiEventDetector().read(Observation("gemini", events=(AgentEvent("PreCompress", 0.0, {}),))) is None
