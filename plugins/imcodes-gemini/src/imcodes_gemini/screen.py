"""Gemini CLI's screen, read into a state. Patterns come from captures of Gemini CLI 0.61.0 in a 120x40 pane.

The screen is the only source for the auth picker, the API key entry and the folder trust prompt (SETUP); for
the rest, hooks (see ``events``) are sooner and surer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imcodes_core.screens import ScreenPatternDetector
from imcodes_core.states import Observation, SessionState, StateReading

TAIL_CHARS = 24_000  # Gemini draws wide boxes: a full 120x40 screen is ~6k characters
TAIL_LINES = 40

_BOX = re.compile(r"^[\s│]*(.*?)[\s│]*$")  # the dialog's borders, however deeply nested
_RESUME = re.compile(r"gemini --resume ([0-9a-f-]{36})")
_SETUP = (
    ("How would you like to authenticate", "auth picker"),
    ("Enter Gemini API Key", "API key entry"),
    ("Do you trust the files in this folder?", "folder trust prompt"),
)
_QUESTION = re.compile(r"^(Allow execution of .+\?|Apply this change\?|Do you want to proceed\?)$")
_CHOICE = re.compile(r"^(●)?\s*(\d)\.\s+(\S.*?)$")
_TOOL = re.compile(r"^\?\s+(\w+)\s+(.+)$")  # "? Shell  echo fake-tool-ran > fake_tool_output.txt"
_WORKING = re.compile(r"^\S\s+(.+?)\s+\(esc to cancel, (\d+[smh])\)")
# "⠏ Executing Hooks: imcodes, imcodes (esc to cancel, 0s)", or "Executing Hook: imcodes (...)" for one hook
_HOOKS_RUNNING = ("Executing Hooks:", "Executing Hook:")
# A tool's box while it runs: "│ ⊷  Shell sleep 1 && touch out.txt │" (EXECUTING in Gemini's TOOL_STATUS, animated
# with ⊶; borders are stripped by screen_lines); "o" is pending (before the permission question), "?" confirming.
_TOOL_EXECUTING = re.compile(r"^[⊶⊷]\s+(\S+)\s+(.*)$")
_IDLE = "Type your message or @path/to/file"
# The input box paints before Gemini is ready: "ℹ Initializing... Prompts will be queued." shows above it then.
_INITIALIZING = re.compile(r"Initializing\.\.\.|Prompts will be queued\.")
_QUEUED = "Queued (press ↑ to edit)"  # a prompt typed before it was ready (or while it works): sent once it can
_INPUT = re.compile(r"^>\s+(.*?)\s*$")  # the input box: "> typed text", between ▄▄▄ and ▀▀▀ rows
_BOX_TOP, _BOX_BOTTOM = re.compile(r"^▄{20,}$"), re.compile(r"^▀{20,}$")


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
    """The last non-blank lines with dialog borders removed."""
    lines = [_BOX.sub(r"\1", line) for line in screen[-TAIL_CHARS:].splitlines()]
    return [line for line in lines if line][-TAIL_LINES:]


def resume_id(screen: str) -> str | None:
    """The session id Gemini prints in its exit summary ("To resume this session: gemini --resume <id>")."""
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
    for line in lines[start + 1 :]:
        if match := _CHOICE.match(line):
            choices.append(Choice(match.group(2), match.group(3), bool(match.group(1))))
        elif choices:
            break
    tool, detail = "", ""
    for line in reversed(lines[max(0, start - 8) : start]):
        if match := _TOOL.match(line):
            tool, detail = match.group(1), match.group(2).strip()
            break
    return PermissionPrompt(question, tuple(choices), tool, detail) if choices else None


def permission_prompt(screen: str) -> PermissionPrompt | None:
    """The approval question on this screen with its choices, for approving from the phone."""
    return parse_permission_prompt(screen_lines(screen))


class GeminiScreenDetector(ScreenPatternDetector):
    name = "gemini-screen"
    drivers = frozenset({"gemini"})

    def _tool_running(self, lines: list[str]) -> StateReading | None:
        """Working when a tool's box shows it executing (e.g. AfterTool hooks run after an approved tool)."""
        running = next((m for line in reversed(lines) if (m := _TOOL_EXECUTING.match(line))), None)
        if running is None:
            return None
        return self._reading(SessionState.WORKING, 0.8, f"tool running: {running.group(1)} {running.group(2)}")

    def read(self, observation: Observation) -> StateReading | None:
        lines = screen_lines(observation.screen)
        if not lines:
            return None
        text = "\n".join(lines)
        if dead := self._dead_pane(lines[-1]):
            return dead
        if "To resume this session:" in text:
            return self._reading(SessionState.EXITED, 0.85, f"exit summary (resume id {resume_id(text)})")
        for marker, what in _SETUP:
            if marker in text:
                return self._reading(SessionState.SETUP, 0.85, f"{what}: {marker!r}")
        if prompt := parse_permission_prompt(lines):
            choices = " / ".join(f"{c.key}. {c.label}" for c in prompt.choices)
            what = f" ({prompt.tool}: {prompt.detail})" if prompt.tool else ""
            return self._reading(SessionState.WAITING_PERMISSION, 0.9, f"asks {prompt.question!r}{what}: {choices}")
        for line in reversed(lines):
            if working := _WORKING.match(line):
                if working.group(1).startswith(_HOOKS_RUNNING):
                    # Gemini shows this while hooks run, ours included, at every event: at the permission
                    # Notification and at AfterAgent too. The hook's own event tells the state; a screen reading
                    # here would outrank it for being newer and flip a waiting session back to working. Unless a
                    # tool is running (approved): then silence let the older permission Notification win again.
                    return self._tool_running(lines)
                evidence = f"{working.group(1)} ({working.group(2)}, esc to cancel)"
                return self._reading(SessionState.WORKING, 0.8, evidence)
        if any(_QUEUED in line for line in lines):
            return self._reading(SessionState.WORKING, 0.75, f"a prompt waits: {_QUEUED!r}")
        if found := next((m for line in lines[-12:] if (m := _INITIALIZING.search(line))), None):
            return self._reading(SessionState.STARTING, 0.75, f"not ready yet: {found.group(0)!r}")
        box = next(
            (
                n
                for n in range(len(lines) - 2, 0, -1)
                if _INPUT.match(lines[n]) and _BOX_TOP.match(lines[n - 1]) and _BOX_BOTTOM.match(lines[n + 1])
            ),
            -1,
        )
        if box < 0:
            return None
        typed = _INPUT.match(lines[box]).group(1)  # type: ignore[union-attr]
        if typed == _IDLE:
            return self._reading(SessionState.IDLE, 0.7, "empty input box and nothing running")
        return self._reading(SessionState.IDLE, 0.7, f"text typed in the input box, nothing running ({typed[:40]!r})")
