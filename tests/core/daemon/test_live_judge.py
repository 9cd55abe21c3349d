"""How a live session judges its state from its detectors' readings (LiveSession.judge, no tmux needed).

A driver with detectors of its own: once the session has started, the generic fallback's guesses (confidence
below GUESS_CONFIDENCE) are left out, and a screen nobody can read keeps the state. Seen with the real Codex: while
a prompt was typed its screen detector could not tell, and the generic "output without a prompt at the end" flashed
the session to working.
"""

from __future__ import annotations

from pathlib import Path

from imcodes_core.builtins.screen import GenericScreenDetector, PaneLifeDetector
from imcodes_core.daemon.journal import Journal
from imcodes_core.daemon.live import LiveSession
from imcodes_core.daemon.sessions import SessionRecord
from imcodes_core.daemon.tmux import Tmux
from imcodes_core.protocol.frames import TimelineEvent
from imcodes_core.states import Observation, SessionState, StateDetector, StateReading

S = SessionState


class Sink:
    def __init__(self) -> None:
        self.events: list[TimelineEvent] = []

    def timeline(self, event: TimelineEvent) -> None:
        self.events.append(event)

    def updated(self, live: LiveSession) -> None:
        pass

    def control_lost(self, live: LiveSession) -> None:
        pass

    def wake(self, session: str) -> None:
        pass


class BoxDetector(StateDetector):
    """An agent's own screen detector: idle on its input box, working on its spinner, silent otherwise."""

    name = "box-screen"
    drivers = frozenset({"boxy"})

    def read(self, observation: Observation) -> StateReading | None:
        if "[ready]" in observation.screen:
            return StateReading(S.IDLE, 0.8, "input box", self.name)
        if "(working)" in observation.screen:
            return StateReading(S.WORKING, 0.8, "spinner", self.name)
        return None


def live_session(tmp_path: Path, driver: str) -> tuple[LiveSession, Sink]:
    journal = Journal(tmp_path, "s1")
    journal.open(1)
    sink = Sink()
    detectors = [PaneLifeDetector(), BoxDetector(), GenericScreenDetector()]
    live = LiveSession(SessionRecord("s1", driver), Tmux("unused"), journal, detectors, sink, viewer_limit=1 << 20)
    return live, sink


def states(sink: Sink) -> list[str]:
    return [str(e.data["state"]) for e in sink.events if e.kind == "state.changed"]


def test_an_agents_own_silence_keeps_its_state_instead_of_the_generic_guess(tmp_path: Path) -> None:
    live, sink = live_session(tmp_path, "boxy")
    live.judge("")  # before it started, the generic reading is all there is
    live.judge("agent 1.0\n[ready]")
    live.judge("agent 1.0\nPlease run the tests")  # a prompt being typed: the box is redrawn, nobody can tell
    live.judge("agent 1.0\n[ready] Please run the tests")
    live.judge("agent 1.0\nsome output\n(working)")
    live.judge("")  # an empty moment mid-session (a full redraw): not "starting" again
    assert states(sink) == ["starting", "idle", "working"]
    live.judge("", pane_dead=True, exit_status=0)
    assert states(sink)[-1] == "exited"


def test_a_driver_without_detectors_of_its_own_keeps_the_generic_readings(tmp_path: Path) -> None:
    live, sink = live_session(tmp_path, "shell")
    live.judge("$ ")
    live.judge("$ make\ncompiling")
    assert states(sink) == ["idle", "working"]
