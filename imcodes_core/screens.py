"""What every screen-pattern detector of an agent plugin shares: how a screen reading is made, and tmux's own
"Pane is dead" line (with ``remain-on-exit``) read as exited or error, whatever the agent drew before it."""

from __future__ import annotations

import re

from imcodes_core.states import SessionState, SignalSource, StateDetector, StateReading

PANE_DEAD = re.compile(r"^Pane is dead \(status (\d+)")


class ScreenPatternDetector(StateDetector):
    """Base for a plugin's screen detector: subclasses read the screen and build readings with :meth:`_reading`."""

    def _reading(self, state: SessionState, confidence: float, evidence: str) -> StateReading:
        return StateReading(state, confidence, evidence, self.name, SignalSource.SCREEN)

    def _dead_pane(self, last_line: str) -> StateReading | None:
        """Exited (status 0) or error (any other status) when tmux reports the pane dead; else None."""
        if dead := PANE_DEAD.match(last_line):
            status = int(dead.group(1))
            state = SessionState.EXITED if status == 0 else SessionState.ERROR
            return self._reading(state, 0.9, f"tmux says the pane is dead (status {status})")
        return None
