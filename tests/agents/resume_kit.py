"""Resume through the daemon, for the real-CLI resume tests of Codex and Gemini CLI.

One daemon runs two sessions one after the other: a turn in the first (the daemon learns the CLI's conversation id
from its hooks), a stop, then a ``session.start`` with ``resume=<id>``. Every wait here is for one session's
events (the timeline holds both sessions'), bounded, and woken by the daemon's publications. Loaded from its path
by those test modules (this folder is no package).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.host import make_plugin_host
from imcodes_core.protocol.frames import SessionStart, SessionStop, TerminalInput, TimelineEvent

FIRST_PROMPT = "Say hello please"  # the fake model answers with its plain text (Behaviour.text)
SECOND_PROMPT = "Say it once more"


@contextlib.asynccontextmanager
async def running_daemon(
    kit: Any, world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, driver: str, command: Path
) -> AsyncIterator[tuple[Daemon, Any]]:
    """A daemon with the world's environment and a Timeline publisher; stopped, with every agent process, after."""
    for key, value in world.env.items():  # the daemon's tmux server starts with this environment
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(f"IMCODES_{driver.upper()}_BINARY", str(command))
    daemon = Daemon(DaemonConfig.create(tmp_path / "d"), make_plugin_host())
    timeline = kit.Timeline()
    daemon.registry.publisher = timeline
    task = asyncio.create_task(daemon.serve(install_signals=False))
    try:
        await asyncio.wait_for(daemon.started.wait(), 10)
        yield daemon, timeline
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 15)
        kit.support().stop_processes_with_home(world.home)


def of(timeline: Any, name: str, kind: str) -> list[TimelineEvent]:
    return [e for e in timeline.of(kind) if e.session == name]


def last_state(timeline: Any, name: str) -> str:
    changes = of(timeline, name, "state.changed")
    return str(changes[-1].data["state"]) if changes else ""


async def start(daemon: Daemon, driver: str, cwd: Path, resume: str | None = None) -> dict[str, Any]:
    frame = SessionStart(id=f"start-{resume or 'new'}", driver=driver, cwd=str(cwd), resume=resume)
    started = json.loads(await daemon.commands.handle(frame) or "{}")
    assert started["ok"], started.get("error")
    return dict(started["result"]["session"])


async def stop(daemon: Daemon, name: str) -> None:
    stopped = json.loads(await daemon.commands.handle(SessionStop(id=f"stop-{name}", session=name)) or "{}")
    assert stopped["ok"], stopped


async def turn(kit: Any, daemon: Daemon, timeline: Any, name: str, live: Any, text: str) -> str:
    """Type ``text`` once the session is idle, Enter until its hook reports the prompt; its ``assistant.final``."""
    await timeline.wait(lambda: last_state(timeline, name) == "idle", 60, f"{name} idle")
    finals = len(of(timeline, name, "assistant.final"))
    prompts = len(of(timeline, name, "user.prompt"))
    await daemon.commands.handle(TerminalInput(id=None, session=name, data=text))
    await kit.until(lambda: kit.shows(live, text), 10, "the typed text on screen")
    await asyncio.sleep(0.5)  # a fast Enter may be taken as part of the typed text
    for _ in range(4):
        await daemon.commands.handle(TerminalInput(id=None, session=name, data="\r"))
        with contextlib.suppress(AssertionError):
            await timeline.wait(lambda: len(of(timeline, name, "user.prompt")) > prompts, 3, "user.prompt")
            break
    else:
        raise AssertionError(f"{name} did not take {text!r}; states {timeline.reasons()}")
    await timeline.wait(lambda: len(of(timeline, name, "assistant.final")) > finals, 40, "assistant.final")
    return str(of(timeline, name, "assistant.final")[-1].data["text"])


async def no_tmux_server(socket: str) -> bool:
    process = await asyncio.create_subprocess_exec(
        "tmux", "-L", socket, "list-sessions", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await process.wait() != 0


def role_texts(body: object) -> dict[str, str]:
    """Every text in a model request, joined per role (``user``, ``model``/``assistant``, ...): the history sent."""
    found: dict[str, list[str]] = {}

    def walk(value: object, role: str) -> None:
        if isinstance(value, Mapping):
            role = str(value.get("role", role))
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    found.setdefault(role, []).append(item)
                else:
                    walk(item, role)
        elif isinstance(value, list):
            for item in value:
                walk(item, role)

    walk(body, "")
    return {role: "".join(texts) for role, texts in found.items()}
