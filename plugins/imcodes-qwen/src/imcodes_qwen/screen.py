"""Qwen Code's screen, read into a state. Patterns come from captures of Qwen Code 0.24.4 in a 120x40 pane.

Working is the status line ``<spinner> <witty phrase>... (0s · esc to cancel)``, a queued prompt (``⏳ 1 queued``)
or the working footer (``Enter to steer · Ctrl+Q to queue``); idle is the input box (empty or holding typed text)
with none of them. While a spinner it does not know is on screen it abstains (the core's generic detector still
sees the spinner).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imcodes_core.screens import ScreenPatternDetector
from imcodes_core.states import Observation, SessionState, StateReading

TAIL_CHARS = 24_000
TAIL_LINES = 40

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
_STARTING = re.compile(r"^\S*\s*Initializing\.\.\.$")  # ".. Initializing..." before the input box shows
_CONFIRMING = re.compile(r"Waiting for user confirmation\.\.\.")  # the status line while the approval is up
_WORKING = re.compile(r"^\S*\s*(.*?)\s*\((\d+[smh])\b[^)]*esc to cancel\)")  # ". Is this...? (0s · esc to cancel)"
_QUEUED = re.compile(r"⏳\s*(\d+) queued")  # a prompt typed while it works waits for the turn's end
_STEER_FOOTER = "Enter to steer"  # the footer while a turn runs: "Enter to steer · Ctrl+Q to queue · ..."
_RULE = re.compile(r"^─{20,}$")
_INPUT = re.compile(r"^>\s+(.*?)[\s\u200b]*$")  # "> typed text" plus a zero-width cursor
_EXITED = re.compile(r"To continue this session, run\s+qwen --resume ([0-9a-f-]{36})")


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


class QwenScreenDetector(ScreenPatternDetector):
    name = "qwen-screen"
    drivers = frozenset({"qwen"})

    def read(self, observation: Observation) -> StateReading | None:
        lines = screen_lines(observation.screen)
        if not lines:
            return None
        text = "\n".join(lines)
        if dead := self._dead_pane(lines[-1]):
            return dead
        for marker, what in _SETUP:
            if marker in text:
                return self._reading(SessionState.SETUP, 0.85, f"{what}: {marker!r}")
        if exited := _EXITED.search(" ".join(lines[-4:])):
            return self._reading(SessionState.EXITED, 0.85, f"exit summary (resume id {exited.group(1)})")
        if prompt := parse_permission_prompt(lines):
            choices = " / ".join(f"{c.key}. {c.label}" for c in prompt.choices)
            what = f" ({prompt.tool}: {prompt.detail})" if prompt.tool else ""
            return self._reading(SessionState.WAITING_PERMISSION, 0.9, f"asks {prompt.question!r}{what}: {choices}")
        return self._read_status(lines)

    def _read_status(self, lines: list[str]) -> StateReading | None:
        recent = lines[-10:]
        if any(_CONFIRMING.search(line) for line in recent):
            return self._reading(
                SessionState.WAITING_PERMISSION, 0.7, "status line says 'Waiting for user confirmation'"
            )
        for line in reversed(recent):
            if working := _WORKING.match(line):
                evidence = f"{working.group(1)[:60]} ({working.group(2)}, esc to cancel)"
                return self._reading(SessionState.WORKING, 0.8, evidence)
            if queued := _QUEUED.search(line):
                return self._reading(SessionState.WORKING, 0.75, f"{queued.group(1)} prompt(s) queued behind a turn")
        if any(_STEER_FOOTER in line for line in lines[-3:]):
            return self._reading(SessionState.WORKING, 0.7, "footer says 'Enter to steer' (a turn runs)")
        if any(_SPINNER.match(line) for line in lines[-8:]):
            return None  # something runs that no capture shows: no claim rather than a wrong "idle"
        if any(_STARTING.match(line) for line in lines[-3:]):
            return self._reading(SessionState.STARTING, 0.6, "'Initializing...' before the input box shows")
        box = next(
            (
                n
                for n in range(len(lines) - 2, 0, -1)
                if _INPUT.match(lines[n]) and _RULE.match(lines[n - 1]) and _RULE.match(lines[n + 1])
            ),
            -1,
        )
        if box < 0:
            return None
        typed = _INPUT.match(lines[box]).group(1)  # type: ignore[union-attr]
        if typed == _IDLE:
            return self._reading(SessionState.IDLE, 0.65, "empty input box and nothing running")
        return self._reading(
            SessionState.IDLE, 0.65, f"text typed in the input box, nothing running ({typed[:40]!r})"
        )
