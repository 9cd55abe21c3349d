"""OpenClaw's chat TUI, read into a state from its status line (" local ready | idle").

Only two status words were recorded (``idle`` and ``error``); any other word is left to other detectors rather
than guessed.
"""

from __future__ import annotations

import re

from imcodes_core.screens import ScreenPatternDetector
from imcodes_core.states import Observation, SessionState, StateReading

TAIL_CHARS = 16_000
TAIL_LINES = 30

_STATUS = re.compile(r"^\s*(\w+) (\w+) \| (\w+)\s*$")  # connection, readiness | activity
_KNOWN = {"idle": SessionState.IDLE, "error": SessionState.ERROR}


class OpenClawScreenDetector(ScreenPatternDetector):
    name = "openclaw-screen"
    drivers = frozenset({"openclaw"})

    def read(self, observation: Observation) -> StateReading | None:
        lines = [line.rstrip() for line in observation.screen[-TAIL_CHARS:].splitlines() if line.strip()]
        lines = lines[-TAIL_LINES:]
        if not lines:
            return None
        if dead := self._dead_pane(lines[-1]):
            return dead
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
