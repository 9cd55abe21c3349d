"""Qwen Code's screen, read into a state. Patterns come from captures of Qwen Code 0.24.4 in a 120x40 pane.

No capture of Qwen at work was recorded, so this detector never claims ``working``: while a spinner it does not
know is on screen it abstains (the core's generic detector still sees the spinner), and it says idle only when
the input box shows and nothing spins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imcodes_core.states import Observation, SessionState, SignalSource, StateDetector, StateReading

TAIL_CHARS = 24_000
TAIL_LINES = 40

_PANE_DEAD = re.compile(r"^Pane is dead \(status (\d+)")
_BORDER = re.compile(r"^[\s│]*(.*?)[\s│]*$")
_SETUP = (
    ("Connect a Provider", "provider picker"),
    ("Enter to select, ↑↓ to navigate, Esc to go back", "provider list"),
)
_QUESTION = re.compile(r"^(Allow execution of: .+\?|Apply this change\?|Do you want to proceed\?)$")
_CHOICE = re.compile(r"^(›)?\s*(\d)\.\s+(\S.*?)$")
_TOOL = re.compile(r"^\?\s+(\w+)\s+(.+?)\s*←?$")  # "? Shell echo ... (Write a marker file) ←"
_SPINNER = re.compile(r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\s")
_IDLE = "Type your message or @path/to/file"


@dataclass(frozen=True, slots=True)
class Choice:
    key: str
    label: str
    selected: bool = False


@dataclass(frozen=True, slots=True)
class PermissionPrompt:
    question: str
    choices: tuple[Choice, ...]
    tool: str = ""
    detail: str = ""


def screen_lines(screen: str) -> list[str]:
    lines = [_BORDER.sub(r"\1", line) for line in screen[-TAIL_CHARS:].splitlines()]
    return [line for line in lines if line][-TAIL_LINES:]


def parse_permission_prompt(lines: list[str]) -> PermissionPrompt | None:
    start, question = -1, ""
    for index in range(len(lines) - 1, -1, -1):
        if found := _QUESTION.match(lines[index]):
            start, question = index, found.group(1)
            break
    if start < 0:
        return None
    choices: list[Choice] = []
    for line in lines[start + 1 :]:
        if match := _CHOICE.match(line):
            choices.append(Choice(match.group(2), match.group(3), bool(match.group(1))))
        elif choices:
            break
    tool, detail = "", ""
    for line in reversed(lines[max(0, start - 6) : start]):
        if match := _TOOL.match(line):
            tool, detail = match.group(1), match.group(2)
            break
    return PermissionPrompt(question, tuple(choices), tool, detail) if choices else None


def permission_prompt(screen: str) -> PermissionPrompt | None:
    """The approval question on this screen with its choices, for approving from the phone."""
    return parse_permission_prompt(screen_lines(screen))


class QwenScreenDetector(StateDetector):
    name = "qwen-screen"
    drivers = frozenset({"qwen"})

    def read(self, observation: Observation) -> StateReading | None:
        lines = screen_lines(observation.screen)
        if not lines:
            return None
        text = "\n".join(lines)
        if dead := _PANE_DEAD.match(lines[-1]):
            status = int(dead.group(1))
            state = SessionState.EXITED if status == 0 else SessionState.ERROR
            return self._reading(state, 0.9, f"tmux says the pane is dead (status {status})")
        for marker, what in _SETUP:
            if marker in text:
                return self._reading(SessionState.SETUP, 0.85, f"{what}: {marker!r}")
        if prompt := parse_permission_prompt(lines):
            choices = " / ".join(f"{c.key}. {c.label}" for c in prompt.choices)
            what = f" ({prompt.tool}: {prompt.detail})" if prompt.tool else ""
            return self._reading(SessionState.WAITING_PERMISSION, 0.9, f"asks {prompt.question!r}{what}: {choices}")
        if any(_SPINNER.match(line) for line in lines[-8:]):
            return None  # something runs, but no capture says what Qwen's working screen looks like
        if any(_IDLE in line for line in lines[-6:]):
            return self._reading(SessionState.IDLE, 0.65, "empty input box and no spinner")
        return None

    def _reading(self, state: SessionState, confidence: float, evidence: str) -> StateReading:
        return StateReading(state, confidence, evidence, self.name, SignalSource.SCREEN)
