"""A real CLI run BY THE DAEMON (its own tmux, hook socket, commands), for the hook tests of Codex and Gemini CLI.

Loaded by those test modules from its path (the tests run with ``--import-mode=importlib``, where a test folder is
no package to import from). The daemon publishes to :class:`Timeline` in place of the server link; commands go
through ``daemon.commands.handle`` as the server would send them, the permission answer included
(``permission.answer``: the daemon reads the question off the screen with the plugin's parser and presses the key
of the chosen option, the way the phone approves).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.host import make_plugin_host
from imcodes_core.protocol.frames import (
    PermissionAnswer,
    SessionInfo,
    SessionStart,
    SessionStop,
    TerminalInput,
    TimelineEvent,
)

SUPPORT = "imcodes_agent_cli_test_support"  # loaded by this folder's conftest
POLL_SECONDS = 0.1


def support() -> Any:
    if SUPPORT not in sys.modules:
        spec = importlib.util.spec_from_file_location(SUPPORT, Path(__file__).with_name("support.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[SUPPORT] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[SUPPORT])
    return sys.modules[SUPPORT]


class Timeline:
    """A publisher for the daemon (in place of the server link): keeps what the daemon publishes."""

    def __init__(self) -> None:
        self.events: list[TimelineEvent] = []
        self.infos: list[SessionInfo] = []
        self.arrived = asyncio.Event()

    def timeline(self, event: TimelineEvent) -> None:
        self.events.append(event)
        self.arrived.set()

    def session_updated(self, info: SessionInfo) -> None:
        self.infos.append(info)

    def session_removed(self, name: str) -> None:
        pass

    def wake(self, session: str) -> None:
        pass

    def of(self, kind: str) -> list[TimelineEvent]:
        return [e for e in self.events if e.kind == kind]

    def states(self) -> list[str]:
        return [str(e.data["state"]) for e in self.of("state.changed")]

    def last_state(self) -> str:
        states = self.states()
        return states[-1] if states else ""

    def reasons(self) -> list[str]:
        return [f"{e.data['state']}: {e.data['reason']}" for e in self.of("state.changed")]

    async def wait(self, predicate: Callable[[], Any], within: float, what: str) -> Any:
        deadline = time.monotonic() + within
        while not (found := predicate()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; states {self.reasons()}")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 0.2)
        return found


def dedupe(states: list[str]) -> list[str]:
    return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


async def capture(live: Any) -> str:
    return str(await live.tmux.run("capture-pane", "-p", "-t", f"={live.name}:"))


async def until(probe: Callable[[], Awaitable[Any]], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while not (found := await probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(POLL_SECONDS)
    return found


async def shows(live: Any, text: str) -> bool:
    return text in await capture(live)


Scenario = Callable[[Daemon, Timeline, str, Any], Awaitable[None]]


async def run_daemon(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, driver: str, command: Path, scenario: Scenario
) -> None:
    """A daemon with the world's environment starts a ``driver`` session, runs ``scenario``, stops it all."""
    for key, value in world.env.items():  # the daemon's tmux server starts with this environment
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(f"IMCODES_{driver.upper()}_BINARY", str(command))
    daemon = Daemon(DaemonConfig.create(tmp_path / "d"), make_plugin_host())
    timeline = Timeline()
    daemon.registry.publisher = timeline
    task = asyncio.create_task(daemon.serve(install_signals=False))
    try:
        await asyncio.wait_for(daemon.started.wait(), 10)
        started = json.loads(
            await daemon.commands.handle(SessionStart(id="c1", driver=driver, cwd=str(world.project))) or "{}"
        )
        assert started["ok"], started
        name = started["result"]["session"]["name"]
        await scenario(daemon, timeline, name, daemon.registry.get(name))
        stopped = json.loads(await daemon.commands.handle(SessionStop(id="c2", session=name)) or "{}")
        assert stopped["ok"], stopped
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 15)
        support().stop_processes_with_home(world.home)


async def type_prompt(daemon: Daemon, timeline: Timeline, name: str, live: Any, text: str) -> None:
    """Type, wait until painted, Enter; verified by the hook's ``user.prompt``, Enter resent if it is missing."""
    commands = daemon.commands
    await commands.handle(TerminalInput(id=None, session=name, data=text))
    await until(lambda: shows(live, text), 10, "the typed text on screen")
    await asyncio.sleep(0.5)  # a fast Enter may be taken as part of the typed text
    for _ in range(4):
        await commands.handle(TerminalInput(id=None, session=name, data="\r"))
        with contextlib.suppress(AssertionError):
            await timeline.wait(lambda: timeline.of("user.prompt"), 3, "user.prompt")
            return
    raise AssertionError(f"the agent did not take {text!r}; states {timeline.reasons()}")


async def approve_once(daemon: Daemon, name: str, live: Any, parser: Callable[[str], Any], label: str) -> Any:
    """Wait for the question on screen, then ONE ``permission.answer`` with the key the plugin's parser gives for
    the choice whose label starts with ``label``; the question must then leave the screen. Returns the ack."""

    async def asked() -> Any:
        return parser(await capture(live))

    prompt = await until(asked, 15, "the permission question on screen")
    choice = next(c for c in prompt.choices if str(c.label).startswith(label))
    await asyncio.sleep(1.0)  # TUIs ignore keys for a moment after a dialog opens
    ack = json.loads(
        await daemon.commands.handle(PermissionAnswer(id="c-approve", session=name, choice=str(choice.key))) or "{}"
    )
    assert ack["ok"], ack
    await until(lambda: _gone(asked), 10, "the question to leave the screen after one answer")
    return ack


async def _gone(asked: Callable[[], Awaitable[Any]]) -> bool:
    return await asked() is None
