"""Prompts, permission answers and interrupts for an agent in a tmux pane, delivered so that they really land.

A prompt is typed literally (bracketed paste when it has several lines or the driver asks for paste), Enter goes
separately once the text shows on the input line, and the prompt counts as submitted only when we see it: the
typed text left the line the cursor is on, or the agent went from idle to working. Enter is retried once; a
prompt never goes to an agent that is working or waiting for a permission answer (it would land in the middle of
a turn or answer the question by accident).

Permission answers read the question off the screen with the driver plugin's ``permission_prompt(screen)`` parser
and press the key the chosen option shows, so the phone never guesses what the TUI binds.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from imcodes_core.daemon.live import LiveSession
from imcodes_core.daemon.registry import SessionError
from imcodes_core.daemon.tmux import TmuxError
from imcodes_core.drivers import InputDelivery
from imcodes_core.redaction import redact
from imcodes_core.states import PERMISSION_ANSWERED, AgentEvent

log = logging.getLogger(__name__)

BUSY_STATES = frozenset({"working", "waiting_permission"})
ECHO_SECONDS = 1.5  # how long the typed text may take to show on the input line before Enter goes anyway
VERIFY_SECONDS = 1.5  # per Enter: a TUI that swallowed the first Enter (still painting the paste) gets a second
POLL_SECONDS = 0.08
MARKER_CHARS = 16  # the end of the prompt we look for on the input line
DEFAULT_INTERRUPT_KEYS = ("C-c",)
KEY_PAUSE_SECONDS = 0.15  # between the keys of an interrupt
KEY_NAMES = {"esc": "Escape", "escape": "Escape", "enter": "Enter", "tab": "Tab", "space": "Space"}
PASTE_BUFFER = "imcodes-prompt"

PermissionParser = Callable[[str], Any]


class AgentIO:
    """Talks to one live session's pane on behalf of the phone. ``driver`` is the session's driver object."""

    def __init__(self, live: LiveSession, driver: object) -> None:
        self.live = live
        self.driver = driver
        self.tmux = live.tmux

    @property
    def target(self) -> str:
        if not self.live.pane or self.live.control is None or not self.live.control.alive:
            raise SessionError(f"session {self.live.name!r} is not running")
        return self.live.pane.decode()

    # -- prompts -------------------------------------------------------------------------------------------------

    async def submit_prompt(self, text: str) -> dict[str, Any]:
        state = str(self.live.verdict.state)
        if state in BUSY_STATES:
            raise SessionError(f"the agent is busy ({state.replace('_', ' ')}); wait or interrupt")
        target = self.target
        text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
        if not text.strip():
            raise SessionError("the prompt is empty")
        marker = _marker(text)
        if "\n" in text or getattr(self.driver, "input_delivery", None) is InputDelivery.PASTE_BUFFER:
            await self.tmux.run("set-buffer", "-b", PASTE_BUFFER, "--", text)
            await self.tmux.run("paste-buffer", "-p", "-d", "-b", PASTE_BUFFER, "-t", target)
        else:
            await self.tmux.run("send-keys", "-t", target, "-l", "--", text)
        echoed = await self._wait(lambda line: marker in line, ECHO_SECONDS)
        for attempt in (1, 2):
            await self.tmux.run("send-keys", "-t", target, "Enter")
            if await self._wait(lambda line: echoed and marker not in line, VERIFY_SECONDS, since=state):
                self.live.emit("user.prompt", {"text": redact(text, self.live.secrets)})
                return {"verified": True, "attempts": attempt}
            log.info("prompt to %s not submitted after Enter #%d", self.live.name, attempt)
        if echoed:
            raise SessionError("the prompt was typed but the agent did not take it (it is still on the input line)")
        raise SessionError("the prompt never showed on the agent's input line and the agent did not start working")

    async def _wait(self, line_ok: Callable[[str], bool], seconds: float, since: str | None = None) -> bool:
        """Poll the input line (and the state) until ``line_ok`` holds or the agent left ``since`` for a busy
        state; the screen is read through tmux, so no output stream or detector timing is assumed."""
        deadline = time.monotonic() + seconds
        while True:
            if since is not None and since not in BUSY_STATES and str(self.live.verdict.state) in BUSY_STATES:
                return True
            if line_ok(await self._input_line()):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_SECONDS)

    async def _input_line(self) -> str:
        """The line the cursor is on, joined with the one above (a long prompt wraps across them)."""
        reply = await self.tmux.run("display-message", "-p", "-t", self.target, "#{cursor_y}")
        screen = await self.screen()
        lines = screen.split("\n")
        row = int(reply.strip() or 0)
        current = lines[row] if row < len(lines) else ""
        above = lines[row - 1] if 0 < row <= len(lines) else ""
        return above.rstrip() + current.strip() + "\n" + current

    async def screen(self) -> str:
        return await self.tmux.run("capture-pane", "-p", "-t", self.target)

    # -- permissions ---------------------------------------------------------------------------------------------

    async def answer_permission(self, choice: str) -> dict[str, Any]:
        parser = permission_parser(self.driver)
        if parser is None:
            name = getattr(self.driver, "name", "?")
            raise SessionError(f"the {name} driver cannot read permission questions: answer in the terminal")
        prompt = parser(await self.screen())
        if prompt is None:
            raise SessionError("there is no permission question on the agent's screen now")
        choices: Sequence[Any] = getattr(prompt, "choices", ())
        wanted = choice.strip().lower()
        picked = next((c for c in choices if str(c.key).lower() == wanted), None) or next(
            (c for c in choices if str(c.label).lower() == wanted), None
        )
        if picked is None:
            offered = ", ".join(f"{c.key} ({c.label})" for c in choices)
            raise SessionError(f"no choice {choice!r} in the question; it offers {offered}")
        await self.press(str(picked.key))
        question = str(getattr(prompt, "question", ""))
        data = {"question": question[:500], "choice": str(picked.key), "label": str(picked.label)[:200]}
        self.live.emit("permission.answered", data)
        # the detectors learn it at once (the builtin imcodes-answers detector): no agent reports the approval
        self.live.machine_event(AgentEvent(PERMISSION_ANSWERED, time.time(), data))
        return data

    async def announce_permission(self) -> None:
        """Record ``permission.requested`` with the question and its choices, when the driver can read them."""
        parser = permission_parser(self.driver)
        if parser is None:
            return
        try:
            prompt = parser(await self.screen())
        except (SessionError, TmuxError) as exc:
            log.info("cannot read the permission question of %s: %s", self.live.name, exc)
            return
        if prompt is None:
            return
        choices = [{"key": str(c.key), "label": str(c.label)[:200]} for c in getattr(prompt, "choices", ())]
        data = {
            "question": str(getattr(prompt, "question", ""))[:500],
            "tool": str(getattr(prompt, "tool", ""))[:200],
            "detail": redact(str(getattr(prompt, "detail", "")), self.live.secrets)[:1000],
            "choices": choices,
        }
        self.live.emit("permission.requested", data)

    async def press(self, key: str) -> None:
        """A choice's key: a named key ("esc"), or text typed as is (a digit, a letter, "y\\r")."""
        named = KEY_NAMES.get(key.lower())
        if named is not None:
            await self.tmux.run("send-keys", "-t", self.target, named)
        else:
            await self.tmux.run("send-keys", "-t", self.target, "-l", "--", key)

    # -- interrupt -----------------------------------------------------------------------------------------------

    async def interrupt(self) -> dict[str, Any]:
        state = str(self.live.verdict.state)
        if state not in BUSY_STATES:
            # an idle agent has nothing to stop, and some exit on the key instead (Qwen on a second C-c)
            raise SessionError(f"the agent is not working ({state.replace('_', ' ')}): nothing to interrupt")
        keys = tuple(getattr(self.driver, "interrupt_keys", None) or DEFAULT_INTERRUPT_KEYS)
        for number, key in enumerate(keys):
            if number:
                # TUIs read keys that arrive together as one paste or ignore the repeat: OpenCode's first Escape
                # arms "esc again to interrupt" and takes a second one only ~50 ms later
                await asyncio.sleep(KEY_PAUSE_SECONDS)
            await self.tmux.run("send-keys", "-t", self.target, key)
        return {"keys": list(keys)}


def permission_parser(driver: object) -> PermissionParser | None:
    """The driver's own ``permission_prompt``, else the one in its plugin's ``screen`` module (the first-party
    plugins keep their screen parsers there, next to ``driver``); None when neither exists."""
    own = getattr(driver, "permission_prompt", None)
    if callable(own):
        return own  # type: ignore[no-any-return]
    package = type(driver).__module__.rpartition(".")[0]
    if not package:
        return None
    try:
        module = importlib.import_module(f"{package}.screen")
    except ImportError:
        return None
    found = getattr(module, "permission_prompt", None)
    return found if callable(found) else None


def _marker(text: str) -> str:
    last = next((line for line in reversed(text.split("\n")) if line.strip()), text).strip()
    return last[-MARKER_CHARS:]
