from __future__ import annotations

import pytest

from imcodes_core.states import (
    UNKNOWN_VERDICT,
    SessionState,
    SignalSource,
    StateReading,
    WorkDetail,
    arbitrate,
)


def reading(state: SessionState, confidence: float, source: SignalSource, name: str = "d") -> StateReading:
    return StateReading(state, confidence, f"{name} saw {state}", name, source)


def test_no_readings_is_unknown() -> None:
    assert arbitrate([]) is UNKNOWN_VERDICT
    assert arbitrate([None, None]).state is SessionState.UNKNOWN


def test_structured_signal_beats_screen_of_equal_confidence() -> None:
    screen = reading(SessionState.IDLE, 0.6, SignalSource.SCREEN, "screen")
    hook = reading(SessionState.WORKING, 0.6, SignalSource.STRUCTURED, "hook")
    verdict = arbitrate([screen, hook])
    assert verdict.state is SessionState.WORKING
    assert verdict.readings[0] is hook
    assert screen in verdict.readings
    assert verdict.reason.startswith("hook:")


def test_confident_screen_beats_weak_structured_signal() -> None:
    screen = reading(SessionState.WAITING_PERMISSION, 0.9, SignalSource.SCREEN, "screen")
    stale = reading(SessionState.WORKING, 0.3, SignalSource.STRUCTURED, "hook")
    assert arbitrate([stale, screen]).state is SessionState.WAITING_PERMISSION


def test_dead_pane_wins_over_everything() -> None:
    dead = reading(SessionState.EXITED, 0.5, SignalSource.PROCESS, "pane")
    loud = reading(SessionState.WORKING, 1.0, SignalSource.STRUCTURED, "hook")
    assert arbitrate([loud, dead]).state is SessionState.EXITED


def test_verdict_serialises_its_evidence() -> None:
    r = StateReading(SessionState.WORKING, 0.7, "spinner", "screen", SignalSource.SCREEN, WorkDetail.THINKING)
    data = arbitrate([r]).to_dict()
    assert data["state"] == "working"
    assert data["detail"] == "thinking"
    assert data["readings"] == [
        {"state": "working", "confidence": 0.7, "evidence": "spinner", "detector": "screen", "source": "screen"}
    ]


@pytest.mark.parametrize("confidence", [-0.1, 1.01])
def test_confidence_must_be_a_probability(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        StateReading(SessionState.IDLE, confidence, "x", "d")
