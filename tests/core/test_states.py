from __future__ import annotations

import pytest

from imcodes_core.states import (
    UNKNOWN_VERDICT,
    SessionArbiter,
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


# -- staleness: a machine-channel reading speaks for the moment of its event ---------------------------------------


def timed(state: SessionState, confidence: float, source: SignalSource, name: str, at: float | None) -> StateReading:
    return StateReading(state, confidence, f"{name} saw {state}", name, source, at=at)


def test_fresh_structured_event_beats_an_older_screen() -> None:
    screen = timed(SessionState.WORKING, 0.8, SignalSource.SCREEN, "screen", at=100.0)  # spinner since the prompt
    hook = timed(SessionState.WAITING_PERMISSION, 0.95, SignalSource.STRUCTURED, "hook", at=105.0)
    verdict = arbitrate([screen, hook])
    assert verdict.state is SessionState.WAITING_PERMISSION
    assert verdict.reason == "hook: hook saw waiting_permission"


def test_newer_confident_screen_change_beats_an_older_structured_reading() -> None:
    hook = timed(SessionState.WAITING_PERMISSION, 0.95, SignalSource.STRUCTURED, "hook", at=105.0)
    screen = timed(SessionState.WORKING, 0.8, SignalSource.SCREEN, "screen", at=106.5)  # dialog gone: approved
    verdict = arbitrate([hook, screen])
    assert verdict.state is SessionState.WORKING
    assert verdict.readings[0] is screen
    assert hook in verdict.readings  # the stale reading stays as evidence
    assert "the screen changed 1.50 s after the last structured reading, hook: hook saw waiting_permission" in (
        verdict.reason
    )


def test_permission_dialog_on_screen_beats_an_older_structured_working() -> None:
    stream = timed(SessionState.WORKING, 0.9, SignalSource.STRUCTURED, "sse", at=200.0)
    dialog = timed(SessionState.WAITING_PERMISSION, 0.9, SignalSource.SCREEN, "screen", at=200.4)
    assert arbitrate([stream, dialog]).state is SessionState.WAITING_PERMISSION
    newer_event = timed(SessionState.WORKING, 0.9, SignalSource.STRUCTURED, "sse", at=201.0)  # e.g. replied
    assert arbitrate([newer_event, dialog]).state is SessionState.WORKING


def test_weak_or_agreeing_or_untimed_screen_readings_never_supersede() -> None:
    hook = timed(SessionState.WORKING, 0.9, SignalSource.STRUCTURED, "hook", at=10.0)
    weak_idle = timed(SessionState.IDLE, 0.7, SignalSource.SCREEN, "screen", at=11.0)  # below FRESH_CONFIDENCE
    assert arbitrate([hook, weak_idle]).state is SessionState.WORKING
    untimed = timed(SessionState.WAITING_PERMISSION, 0.8, SignalSource.SCREEN, "screen", at=None)
    assert arbitrate([hook, untimed]).state is SessionState.WORKING
    agreeing = timed(SessionState.WORKING, 0.8, SignalSource.SCREEN, "screen", at=12.0)
    assert arbitrate([hook, agreeing]).readings[0] is hook


def test_dead_pane_still_wins_over_a_newer_screen() -> None:
    dead = timed(SessionState.EXITED, 0.5, SignalSource.PROCESS, "pane", at=1.0)
    screen = timed(SessionState.WORKING, 0.9, SignalSource.SCREEN, "screen", at=2.0)
    assert arbitrate([screen, dead]).state is SessionState.EXITED


def test_session_arbiter_dates_a_screen_reading_from_when_its_state_began() -> None:
    arbiter = SessionArbiter()

    def screen(state: SessionState, evidence: str) -> StateReading:
        return StateReading(state, 0.8, evidence, "screen", SignalSource.SCREEN)

    hook = timed(SessionState.WAITING_PERMISSION, 0.95, SignalSource.STRUCTURED, "hook", at=5.0)
    arbiter.arbitrate([screen(SessionState.WORKING, "spinner 1s")], now=1.0)
    # the hook came at 5 while the screen still shows the spinner (ticking, one frame without an opinion): the hook
    verdict = arbiter.arbitrate([screen(SessionState.WORKING, "spinner 6s"), hook], now=6.0)
    assert verdict.state is SessionState.WAITING_PERMISSION
    arbiter.arbitrate([None, hook], now=6.5)
    verdict = arbiter.arbitrate([screen(SessionState.WORKING, "spinner 7s"), hook], now=7.0)
    assert verdict.state is SessionState.WAITING_PERMISSION
    assert verdict.readings[1].at == 1.0
    dialog = StateReading(SessionState.WAITING_PERMISSION, 0.9, "dialog", "screen", SignalSource.SCREEN)
    assert arbiter.arbitrate([dialog, hook], now=8.0).state is SessionState.WAITING_PERMISSION
    # approved: the screen shows the tool running from 9 on, and no hook came since 5: the screen wins
    verdict = arbiter.arbitrate([screen(SessionState.WORKING, "spinner 9s"), hook], now=9.0)
    assert verdict.state is SessionState.WORKING
    assert verdict.readings[0].at == 9.0
    assert "after the last structured reading" in verdict.reason
    post = timed(SessionState.WORKING, 0.9, SignalSource.STRUCTURED, "hook", at=10.0)
    assert arbiter.arbitrate([screen(SessionState.WORKING, "spinner 10s"), post], now=10.0).readings[0] is post


def test_session_arbiter_dates_untimed_structured_readings_when_first_seen() -> None:
    arbiter = SessionArbiter()
    hook = StateReading(SessionState.WORKING, 0.9, "PreToolUse hook", "hook", SignalSource.STRUCTURED)
    assert arbiter.stamp(hook, 3.0) == StateReading(
        SessionState.WORKING, 0.9, "PreToolUse hook", "hook", SignalSource.STRUCTURED, at=3.0
    )
    again = arbiter.stamp(hook, 4.0)
    assert again is not None and again.at == 3.0  # the same event seen again: still dated when first seen
    renewed = StateReading(SessionState.WORKING, 0.9, "PostToolUse hook", "hook", SignalSource.STRUCTURED)
    assert arbiter.stamp(renewed, 5.0) == StateReading(
        SessionState.WORKING, 0.9, "PostToolUse hook", "hook", SignalSource.STRUCTURED, at=5.0
    )
    timed_event = timed(SessionState.IDLE, 0.95, SignalSource.STRUCTURED, "hook", at=4.5)
    assert arbiter.stamp(timed_event, 6.0) is timed_event  # an event time is kept as it is


def test_verdict_serialises_the_time_of_a_timed_reading() -> None:
    r = timed(SessionState.IDLE, 0.9, SignalSource.STRUCTURED, "hook", at=12.5)
    assert arbitrate([r]).to_dict()["readings"][0]["at"] == 12.5
