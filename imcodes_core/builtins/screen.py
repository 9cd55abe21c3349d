"""Generic detectors every session gets: the pane's own life, the daemon's own answers, generic screen patterns.

These are the fallbacks. Provider plugins register sharper detectors reading hooks, transcripts and their own
screens; the arbiter prefers those whenever they have a reading.
"""

from __future__ import annotations

import re

from imcodes_core.hookspecs import hookimpl
from imcodes_core.specs import StateDetectorSpec
from imcodes_core.states import (
    PERMISSION_ANSWERED,
    Observation,
    SessionState,
    SignalSource,
    StateDetector,
    StateReading,
)

# A prompt at the end of the last non-empty line: "$ ", "# ", "% ", "> ", "❯ " (shells, REPLs, agent inputs).
_PROMPT = re.compile(r"(?:[$#%>❯›»]|\w+@[\w.-]+:[^\n]*[$#])\s*$")
_PROMPT_TAIL = 200  # a prompt is at the end of the line; looking further only costs time
_PERMISSION = re.compile(
    r"(do you want to (?:proceed|allow|make this edit|run)|allow (?:this|once|always)|\[y/n\]|\(y/n\)|"
    r"approve\b.*\?|permission required)",
    re.IGNORECASE,
)
_WORKING = re.compile(
    r"(esc to (?:interrupt|cancel)|ctrl\+c to (?:interrupt|cancel)|[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\s+\w|thinking…|thinking\.\.\.)",
    re.IGNORECASE,
)
_ERROR = re.compile(r"(^|\n)\s*(?:error|fatal|traceback \(most recent call last\)):?", re.IGNORECASE)


class PaneLifeDetector(StateDetector):
    """A dead pane is exited, whatever the screen shows."""

    name = "pane-life"

    def read(self, observation: Observation) -> StateReading | None:
        if not observation.pane_dead:
            return None
        status = observation.exit_status
        state = SessionState.EXITED if status in (None, 0) else SessionState.ERROR
        evidence = "pane is dead" + (f" (exit status {status})" if status is not None else "")
        return StateReading(state, 1.0, evidence, self.name, SignalSource.PROCESS)


class AnsweredDetector(StateDetector):
    """The daemon answered the agent's permission question (the phone's choice was pressed): the agent is working
    on the answer. Many agents report nothing between the answer and the tool's end, so without this the question's
    own event (a PermissionRequest hook) would keep the session waiting until the screen changed. Dated at the
    answer, it supersedes the older question (states.py's staleness rule); anything the agent says afterwards
    (a new question, the screen's idle after a refusal) is newer and supersedes it in turn."""

    name = "imcodes-answers"

    def read(self, observation: Observation) -> StateReading | None:
        if not observation.events or observation.events[-1].kind != PERMISSION_ANSWERED:
            return None  # the agent has spoken since: its own channel knows better
        event = observation.events[-1]
        label = str(event.data.get("label", "")) or str(event.data.get("choice", ""))
        return StateReading(
            SessionState.WORKING,
            0.8,
            f"permission answered from imcodes ({label[:60]})",
            self.name,
            SignalSource.STRUCTURED,
            at=event.at,
        )


class GenericScreenDetector(StateDetector):
    """Screen patterns shared by most terminal agents and shells. Low confidence by design."""

    name = "generic-screen"
    fallback = True

    def read(self, observation: Observation) -> StateReading | None:
        lines = [line.rstrip() for line in observation.screen.splitlines() if line.strip()]
        if not lines:
            return StateReading(SessionState.STARTING, 0.2, "screen is empty", self.name)
        tail = "\n".join(lines[-12:])
        if match := _PERMISSION.search(tail):
            return StateReading(SessionState.WAITING_PERMISSION, 0.5, f"screen asks {match.group(0)!r}", self.name)
        if match := _WORKING.search(tail):
            return StateReading(SessionState.WORKING, 0.5, f"screen shows {match.group(0)!r}", self.name)
        if _PROMPT.search(lines[-1][-_PROMPT_TAIL:]):  # bounded: the pattern backtracks on a huge line
            return StateReading(SessionState.IDLE, 0.4, f"prompt at the end: {lines[-1][-40:]!r}", self.name)
        if match := _ERROR.search("\n".join(lines[-3:])):
            return StateReading(SessionState.ERROR, 0.3, f"screen shows {match.group(0).strip()!r}", self.name)
        return StateReading(SessionState.WORKING, 0.2, "output without a prompt at the end", self.name)


@hookimpl(trylast=True)
def imcodes_state_detectors() -> list[StateDetectorSpec]:
    return [
        StateDetectorSpec(name="pane-life", detector=PaneLifeDetector()),
        StateDetectorSpec(name="imcodes-answers", detector=AnsweredDetector()),
        StateDetectorSpec(name="generic-screen", detector=GenericScreenDetector()),
    ]
