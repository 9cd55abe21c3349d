"""OpenClaw's chat TUI, read into a state from its status line (" local ready | idle").

Only two status words were recorded (``idle`` and ``error``); any other word is left to other detectors rather
than guessed.
"""

from __future__ import annotations

import re

from imcodes_core.states import Observation, SessionState, SignalSource, StateDetector, StateReading

TAIL_CHARS = 16_000
TAIL_LINES = 30

_PANE_DEAD = re.compile(r"^Pane is dead \(status (\d+)")
_STATUS = re.compile(r"^\s*(\w+) (\w+) \| (\w+)\s*$")  # connection, readiness | activity
_KNOWN = {"idle": SessionState.IDLE, "error": SessionState.ERROR}


class OpenClawScreenDetector(StateDetector):
    name = "openclaw-screen"
    drivers = frozenset({"openclaw"})

    def read(self, observation: Observation) -> StateReading | None:
        lines = [line.rstrip() for line in observation.screen[-TAIL_CHARS:].splitlines() if line.strip()]
        lines = lines[-TAIL_LINES:]
        if not lines:
            return None
        if dead := _PANE_DEAD.match(lines[-1]):
            status = int(dead.group(1))
            state = SessionState.EXITED if status == 0 else SessionState.ERROR
            return self._reading(state, 0.9, f"tmux says the pane is dead (status {status})")
        for index in range(len(lines) - 1, -1, -1):
            match = _STATUS.match(lines[index])
            if match is None:
                continue
            known = _KNOWN.get(match.group(3))
            if known is None:
                return None
            evidence = f"status line {lines[index].strip()!r}"
            if known is SessionState.ERROR and index > 0:
                evidence += f" after {lines[index - 1].strip()[:100]!r}"
            return self._reading(known, 0.75, evidence)
        return None

    def _reading(self, state: SessionState, confidence: float, evidence: str) -> StateReading:
        return StateReading(state, confidence, evidence, self.name, SignalSource.SCREEN)
