"""OpenCode's screen, read into a state. Patterns come from captures of OpenCode 1.18.33 in a 120x40 pane.

The SSE stream of the TUI's own server (see ``events``) says the same sooner and surer when the TUI runs with
``--port``; no exit screen was recorded, so an exit is left to the pane's death.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imcodes_core.screens import ScreenPatternDetector
from imcodes_core.states import Observation, SessionState, StateReading

TAIL_CHARS = 16_000
TAIL_LINES = 30

_GUTTER = re.compile(r"^[\s┃╹]*(.*?)\s*$")  # the left bar OpenCode draws beside messages and the input box
_PERMISSION = "△ Permission required"
_CHOICES = re.compile(r"^(Allow once)\s{2,}(Allow always)\s{2,}(Reject)\b")
_WORKING = "esc interrupt"
_IDLE = ("ctrl+p commands", "Ask anything…")
_EXITED = re.compile(r"^Continue\s+opencode -s (\S+)")  # the exit summary: "Continue  opencode -s ses_..."


# The dialog's choices that one key answers: "Allow once" is selected when the dialog opens (Enter confirms it),
# Escape rejects. "Allow always" needs an arrow key and then a confirmation screen: not offered from the phone.
PERMISSION_CHOICES = (("enter", "Allow once"), ("esc", "Reject"))


@dataclass(frozen=True, slots=True)
class Choice:
    key: str  # what imcodes presses (a tmux key name the daemon knows: enter, esc)
    label: str


@dataclass(frozen=True, slots=True)
class PermissionPrompt:
    question: str
    choices: tuple[Choice, ...]
    tool: str = ""
    detail: str = ""
    shown: tuple[str, ...] = ()  # every choice the dialog draws, in its order


def screen_lines(screen: str) -> list[str]:
    lines = [_GUTTER.sub(r"\1", line) for line in screen[-TAIL_CHARS:].splitlines()]
    return [line for line in lines if line][-TAIL_LINES:]


def parse_permission_prompt(lines: list[str]) -> PermissionPrompt | None:
    starts = [n for n, line in enumerate(lines) if line.startswith(_PERMISSION)]
    if not starts:
        return None
    body = lines[starts[-1] + 1 :]
    shown = next((m.groups() for line in body if (m := _CHOICES.match(line))), None)
    if shown is None:
        return None
    tool = next((line.lstrip("# ") for line in body if line.startswith("# ")), "")
    detail = next((line[2:] for line in body if line.startswith("$ ")), "")
    choices = tuple(Choice(key, label) for key, label in PERMISSION_CHOICES if label in shown)
    return PermissionPrompt("Permission required", choices, tool, detail, tuple(shown))


def permission_prompt(screen: str) -> PermissionPrompt | None:
    """The permission request on this screen with its choices, for approving from the phone."""
    return parse_permission_prompt(screen_lines(screen))


class OpenCodeScreenDetector(ScreenPatternDetector):
    name = "opencode-screen"
    drivers = frozenset({"opencode"})

    def read(self, observation: Observation) -> StateReading | None:
        lines = screen_lines(observation.screen)
        if not lines:
            return None
        if dead := self._dead_pane(lines[-1]):
            return dead
        if exited := next((m for line in lines[-4:] if (m := _EXITED.match(line))), None):
            return self._reading(
                SessionState.EXITED, 0.85, f"exit summary (resume with opencode -s {exited.group(1)})"
            )
        if prompt := parse_permission_prompt(lines):
            what = f" ({prompt.tool}: {prompt.detail})" if prompt.tool or prompt.detail else ""
            evidence = f"asks 'Permission required'{what}: {' / '.join(prompt.shown)}"
            return self._reading(SessionState.WAITING_PERMISSION, 0.9, evidence)
        footer = lines[-1]
        if _WORKING in footer:
            activity = footer.split(_WORKING)[0].strip(" ⬝■")
            return self._reading(SessionState.WORKING, 0.8, f"footer says 'esc interrupt' ({activity[:80]})")
        if any(marker in line for line in lines[-4:] for marker in _IDLE):
            return self._reading(SessionState.IDLE, 0.7, "input box and nothing running")
        return None
