"""The Codex TUI's screen, read into a state. Patterns come from captures of Codex 0.169.0 in a 120x40 pane.

The screen is the only source for the sign-in, trust, hook-review and warnings screens (SETUP), which no machine
channel reports; for the rest, hooks and ``notify`` (see ``events``) are sooner and surer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imcodes_core.screens import ScreenPatternDetector
from imcodes_core.states import Observation, SessionState, StateReading

TAIL_CHARS = 16_000
TAIL_LINES = 30

_RESUME = re.compile(r"codex resume ([0-9a-f-]{36})")
_SETUP = (
    ("Welcome to Codex", "sign-in screen"),
    ("Trust this folder?", "folder trust prompt"),
    ("hooks need review", "hooks review list"),
    ("esc dismiss & close", "startup warnings panel"),
)
_QUESTION = re.compile(r"^\s*(Would you like to .+\?)\s*$")
_CHOICE = re.compile(r"^\s*(›)?\s*(\d)\.\s+(\S.*?)(?:\s+\((\w+)\))?\s*$")  # "› 1. Yes, proceed (y)"
# The spinner in front of "Working" alternates "•" and "◦".
_WORKING = re.compile(r"^\s*[•◦]\s+(\w[^(]*?)\s*\((\d+[smh])[^)]*esc to interrupt\)")
_INPUT = re.compile(r"^› (.*)$")  # the input box, and every prompt already sent above it
_PLACEHOLDER = "Ask Codex to do anything"
_FOOTER_LINES = 3  # under the input box: model and folder, shortcuts hint (gone while typing), warnings
# While an answer streams Codex shows no status line; a turn ends with "Worked for 2s • 15:43" under it.
_TURN_END = re.compile(r"^\s*(?:─+\s*)?Worked for \S+")
# An interrupted turn (Escape) ends with "■ Conversation interrupted - use /feedback if something went wrong" and
# no hook says so: sure enough to outrank the older UserPromptSubmit hook (states.py's staleness rule).
_INTERRUPTED = re.compile(r"^\s*■ Conversation interrupted")
_TURN_OUTPUT = re.compile(r"^(?:› |• )")  # a prompt sent or an answer: some turn happened on this screen
_COMMAND_POPUP = re.compile(r"^[›\s]\s/[\w-]+\s{2,}\S")  # "› /quit  exit Codex" above a typed slash command


@dataclass(frozen=True, slots=True)
class Choice:
    key: str  # the key Codex binds to it ("y", "p", "esc"), or the digit when it shows none
    label: str
    selected: bool = False


@dataclass(frozen=True, slots=True)
class PermissionPrompt:
    question: str
    choices: tuple[Choice, ...]
    detail: str = ""  # the command line ("$ ...") and the model's reason


def screen_lines(screen: str) -> list[str]:
    lines = [line.rstrip() for line in screen[-TAIL_CHARS:].splitlines()]
    return [line for line in lines if line.strip()][-TAIL_LINES:]


def resume_id(screen: str) -> str | None:
    """The thread id Codex prints when it exits ("To continue this session, run: codex resume <id>")."""
    found = _RESUME.findall(screen[-TAIL_CHARS:])
    return found[-1] if found else None


def parse_permission_prompt(lines: list[str]) -> PermissionPrompt | None:
    start, question = -1, ""
    for index in range(len(lines) - 1, -1, -1):
        if found := _QUESTION.match(lines[index]):
            start, question = index, found.group(1)
            break
    if start < 0:
        return None
    choices: list[Choice] = []
    details: list[str] = []
    for line in lines[start + 1 :]:
        if match := _CHOICE.match(line):
            choices.append(Choice(match.group(4) or match.group(2), match.group(3), bool(match.group(1))))
        elif choices:
            break
        elif line.strip().startswith(("$ ", "Reason:")):
            details.append(line.strip())
    return PermissionPrompt(question, tuple(choices), " · ".join(details)) if choices else None


def permission_prompt(screen: str) -> PermissionPrompt | None:
    """The approval question on this screen with its choices, for approving from the phone."""
    return parse_permission_prompt(screen_lines(screen))


class CodexScreenDetector(ScreenPatternDetector):
    name = "codex-screen"
    drivers = frozenset({"codex"})

    def read(self, observation: Observation) -> StateReading | None:
        lines = screen_lines(observation.screen)
        if not lines:
            return None
        text = "\n".join(lines)
        if dead := self._dead_pane(lines[-1]):
            return dead
        if "To continue this session, run:" in text:
            return self._reading(SessionState.EXITED, 0.85, f"exit summary (resume id {resume_id(text)})")
        for marker, what in _SETUP:
            if marker in text:
                return self._reading(SessionState.SETUP, 0.85, f"{what}: {marker!r}")
        if prompt := parse_permission_prompt(lines):
            choices = " / ".join(f"{c.key}: {c.label}" for c in prompt.choices)
            detail = f" ({prompt.detail})" if prompt.detail else ""
            return self._reading(SessionState.WAITING_PERMISSION, 0.9, f"asks {prompt.question!r}{detail}: {choices}")
        for line in reversed(lines):
            if working := _WORKING.match(line):
                return self._reading(
                    SessionState.WORKING, 0.8, f"{working.group(1)} ({working.group(2)}, esc to interrupt)"
                )
        return self._read_input_box(lines)

    def _read_input_box(self, lines: list[str]) -> StateReading | None:
        """Idle, or working while an answer streams: the input box shows in both, the last turn tells them apart.

        The box is the last line opening with the prompt mark, with only footer lines under it; without a footer
        the prompt was just sent and the box is hidden for a moment (no reading then).
        """
        box = next((n for n in range(len(lines) - 1, -1, -1) if _INPUT.match(lines[n])), -1)
        if box < 0 or not 1 <= len(lines) - box - 1 <= _FOOTER_LINES:
            return None
        history = lines[:box]
        while history and _COMMAND_POPUP.match(history[-1]):
            history.pop()
        if history and _INTERRUPTED.match(history[-1]):
            return self._reading(SessionState.IDLE, 0.85, "the last turn was interrupted ('■ Conversation')")
        if any(_TURN_OUTPUT.match(line) for line in history) and not (history and _TURN_END.match(history[-1])):
            return self._reading(SessionState.WORKING, 0.75, "the last turn has no 'Worked for' under it yet")
        typed = lines[box][2:].strip()
        if typed == _PLACEHOLDER:
            return self._reading(SessionState.IDLE, 0.7, "empty input box and nothing running")
        return self._reading(SessionState.IDLE, 0.7, f"text typed in the input box, nothing running ({typed[:40]!r})")
