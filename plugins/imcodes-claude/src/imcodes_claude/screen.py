"""Claude Code's screen, read into a state. Patterns come from captures of Claude Code 2.1.331 in a 120x40 pane.

The screen is the fallback: hooks and the session status file (see ``events``) say the same sooner and surer.
It stays the only source for an exit summary and for fatal start-up errors, which no hook reports.
"""

from __future__ import annotations

import re

from imcodes_claude.prompts import PermissionPrompt, parse_permission_prompt
from imcodes_core.screens import ScreenPatternDetector
from imcodes_core.states import Observation, SessionState, StateReading

TAIL_CHARS = 16_000  # a 120x40 pane holds at most ~5k characters (wide glyphs count once); more is old scrollback
TAIL_LINES = 30

_WORKING = re.compile(r"esc to interrupt", re.IGNORECASE)
_SPINNER = re.compile(r"^\S\s+(\w[\w ]*)…\s+\((\d+[smh])")  # "✽ Embellishing… (2s · ↓ 20 tokens)"
_INPUT = re.compile(r"^❯[\s\xa0]*$")  # the empty input line between two rules
_RESUME = re.compile(r"claude\b.*--resume\s+([0-9a-f-]{36})")
_FATAL = re.compile(r"Unable to connect to Anthropic services|Invalid API key|OAuth token has expired")


def screen_lines(screen: str) -> list[str]:
    """The last non-blank lines of the visible screen, right-stripped, bounded for huge inputs."""
    lines = [line.rstrip() for line in screen[-TAIL_CHARS:].splitlines()]
    return [line for line in lines if line.strip()][-TAIL_LINES:]


def resume_id(screen: str) -> str | None:
    """The conversation id Claude prints when it exits ("Resume this session with: claude --resume <id>")."""
    found = _RESUME.findall(screen[-TAIL_CHARS:])
    return found[-1] if found else None


def describe(prompt: PermissionPrompt) -> str:
    choices = " / ".join(f"{c.key}. {c.label}" for c in prompt.choices)
    what = f" ({prompt.tool}: {prompt.detail})" if prompt.tool or prompt.detail else ""
    return f"asks {prompt.question!r}{what}: {choices}"


class ClaudeScreenDetector(ScreenPatternDetector):
    name = "claude-screen"
    drivers = frozenset({"claude"})

    def read(self, observation: Observation) -> StateReading | None:
        lines = screen_lines(observation.screen)
        if not lines:
            return None
        text = "\n".join(lines)
        if dead := self._dead_pane(lines[-1]):
            return dead
        if fatal := _FATAL.search(text):
            return self._reading(SessionState.ERROR, 0.8, f"screen shows {fatal.group(0)!r}")
        if "Resume this session with:" in text:
            return self._reading(SessionState.EXITED, 0.85, f"exit summary (resume id {resume_id(text)})")
        if prompt := parse_permission_prompt(lines):
            return self._reading(SessionState.WAITING_PERMISSION, 0.9, describe(prompt))
        footer = lines[-1]
        if _WORKING.search(footer):
            spinner = next((m for line in reversed(lines) if (m := _SPINNER.match(line.strip()))), None)
            activity = f" ({spinner.group(1)}…, {spinner.group(2)})" if spinner else ""
            return self._reading(SessionState.WORKING, 0.8, f"footer says 'esc to interrupt'{activity}")
        if any(_INPUT.match(line) for line in lines[-4:]):
            return self._reading(SessionState.IDLE, 0.7, f"empty input box, footer {footer.strip()[:60]!r}")
        return None


def permission_prompt(screen: str) -> PermissionPrompt | None:
    """The question and choices of the permission dialog on this screen, for approving from the phone."""
    return parse_permission_prompt(screen_lines(screen))
