"""The OpenClaw status-line detector over the recorded screens (golden)."""

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
        # exec in mode "ask" without a Gateway: the tool fails and the turn goes on streaming, no question is asked
        cases.append((Observation("openclaw", screen("openclaw-chat-exec-ask-no-gateway")), None))
        return cases


def test_the_error_evidence_quotes_the_message(screen: Callable[[str], str]) -> None:
    reading = OpenClawScreenDetector().read(Observation("openclaw", screen("openclaw-chat-error-no-auth")))
    assert reading is not None and reading.state is SessionState.ERROR
    assert "local ready | error" in reading.evidence and "blocked for inference" in reading.evidence


def test_a_failed_exec_approval_is_no_question(screen: Callable[[str], str]) -> None:
    """OpenClaw 2026.9.6's TUI draws no exec approval: in local mode the registration fails (no Gateway) and the
    message is printed over the chat while the model streams on; nothing on that screen may read as waiting."""
    text = screen("openclaw-chat-exec-ask-no-gateway")
    assert "Exec approval registration failed" in text
    reading = OpenClawScreenDetector().read(Observation("openclaw", text))
    assert reading is None  # the status line says "streaming": no state claimed from this screen
