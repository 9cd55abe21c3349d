"""The OpenClaw status-line detector over both recorded screens (golden)."""

from collections.abc import Callable

import pytest
from imcodes_openclaw.screen import OpenClawScreenDetector

from imcodes_core.states import Observation, SessionState
from imcodes_core.testing.contracts import StateDetectorContract

GOLDEN = {"openclaw-chat-idle-local": SessionState.IDLE, "openclaw-chat-error-no-auth": SessionState.ERROR}


class TestOpenClawScreenDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> OpenClawScreenDetector:
        return OpenClawScreenDetector()

    @pytest.fixture
    def golden_cases(self, screen: Callable[[str], str]) -> list[tuple[Observation, SessionState | None]]:
        cases: list[tuple[Observation, SessionState | None]] = [
            (Observation("openclaw", screen(name)), state) for name, state in GOLDEN.items()
        ]
        unrecorded = screen("openclaw-chat-idle-local").replace("local ready | idle", "local ready | thinking")
        cases += [(Observation("openclaw", ""), None), (Observation("openclaw", unrecorded), None)]
        return cases


def test_the_error_evidence_quotes_the_message(screen: Callable[[str], str]) -> None:
    reading = OpenClawScreenDetector().read(Observation("openclaw", screen("openclaw-chat-error-no-auth")))
    assert reading is not None and reading.state is SessionState.ERROR
    assert "local ready | error" in reading.evidence and "blocked for inference" in reading.evidence
