"""The OpenCode event detector over the recorded SSE stream of one turn with a permission request (golden)."""

from collections.abc import Callable
from typing import Any

import pytest
from imcodes_opencode.events import OpenCodeEventDetector, sse_event

from imcodes_core.states import Observation, SessionState, WorkDetail
from imcodes_core.testing.contracts import StateDetectorContract

S = SessionState
STATE_CODES = {"S": S.STARTING, "D": S.IDLE, "W": S.WORKING, "P": S.WAITING_PERMISSION}
# The state after each of the 47 recorded events: connected (the server is up before the TUI can take input: only
# "starting"), the prompt is submitted, the bash tool asks permission (event 17), the reply (18) lets the turn go
# on, session.status idle (41) ends it.
EXPECTED = "S" * 2 + "W" * 15 + "P" + "W" * 23 + "D" * 6


def replayed(jsonl: Callable[[str], list[dict[str, Any]]]) -> list[Observation]:
    events = [sse_event(record, float(n)) for n, record in enumerate(jsonl("opencode-tui-event-stream.jsonl"))]
    return [Observation("opencode", events=tuple(events[:n])) for n in range(1, len(events) + 1)]


class TestOpenCodeEventDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> OpenCodeEventDetector:
        return OpenCodeEventDetector()

    @pytest.fixture
    def golden_cases(
        self, jsonl: Callable[[str], list[dict[str, Any]]]
    ) -> list[tuple[Observation, SessionState | None]]:
        observations = replayed(jsonl)
        assert len(observations) == len(EXPECTED)
        cases: list[tuple[Observation, SessionState | None]] = [(Observation("opencode"), None)]
        return cases + [(o, STATE_CODES[code]) for o, code in zip(observations, EXPECTED, strict=True)]


def test_the_permission_request_names_the_command(jsonl: Callable[[str], list[dict[str, Any]]]) -> None:
    reading = OpenCodeEventDetector().read(replayed(jsonl)[17])
    assert reading is not None and "echo fake-tool-ran > fake_tool_output.txt" in reading.evidence


def test_tool_and_streaming_details(jsonl: Callable[[str], list[dict[str, Any]]]) -> None:
    observations = replayed(jsonl)
    details = {OpenCodeEventDetector().read(observations[n]).detail for n in (16, 33)}  # type: ignore[union-attr]
    assert details == {WorkDetail.TOOL_RUNNING, WorkDetail.STREAMING}
