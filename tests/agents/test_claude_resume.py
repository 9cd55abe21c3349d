"""Claude Code, the real CLI, resumed through the daemon: the conversation id its hooks report, then resume=<id>.

A turn runs through the daemon against the fake model endpoint; the daemon keeps the ``session_id`` Claude's hooks
report as the session's conversation (SessionInfo and ``session.exited``). The session is stopped and a new one is
started with ``resume`` set to that id: Claude's SessionStart hook then reports ``source: "resume"`` and the earlier
exchange (the fake model's answer) is on the new pane's screen.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.host import make_plugin_host
from imcodes_core.protocol.frames import SessionStart, SessionStop

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]


def _hooks_test() -> Any:
    """test_claude_hooks.py beside this file (this folder is no package): its Timeline, home and prompt helpers."""
    name = "imcodes_agent_cli_test_claude_hooks"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_claude_hooks.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


ANSWER = "FAKE_OK"  # the fake model's plain answer: "Hello from the fake model. FAKE_OK"


async def test_claude_code_resumes_an_earlier_conversation(
    agent_world: Any, tmux_socket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = _hooks_test()
    command, _version = hooks.support().installed_cli("claude")
    hooks.prepare_home(agent_world, agent_world.env["ANTHROPIC_API_KEY"])
    for key, value in agent_world.env.items():  # the daemon's tmux server starts with this environment
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("IMCODES_CLAUDE_BINARY", str(command))
    daemon = Daemon(DaemonConfig.create(tmp_path / "d"), make_plugin_host())
    timeline = hooks.Timeline()
    daemon.registry.publisher = timeline
    task = asyncio.create_task(daemon.serve(install_signals=False))
    try:
        await asyncio.wait_for(daemon.started.wait(), 10)
        conversation = await first_turn(daemon, timeline, agent_world, hooks)
        # Stopping the only session ends the tmux server (exit-empty); a new-session racing its exit fails with
        # "server exited unexpectedly" (a daemon-side race, not what this test is about): let it finish exiting.
        await hooks.until(lambda: _no_tmux_server(tmux_socket), 10, "the emptied tmux server to exit")
        await asyncio.wait_for(resumed(daemon, timeline, agent_world, hooks, conversation), 60)
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 15)
        hooks.support().stop_processes_with_home(agent_world.home)


async def first_turn(daemon: Daemon, timeline: Any, world: Any, hooks: Any) -> str:
    """One turn; returns the conversation id the daemon learnt from the hooks (checked against Claude's own)."""
    commands = daemon.commands
    started = json.loads(
        await commands.handle(SessionStart(id="r1", driver="claude", cwd=str(world.project))) or "{}"
    )
    assert started["ok"], started
    assert started["result"]["session"]["conversation"] is None  # a new conversation: Claude has not said yet
    name = started["result"]["session"]["name"]
    live = daemon.registry.get(name)
    await asyncio.wait_for(
        timeline.wait(lambda: timeline.of("state.changed") and timeline.states()[-1] == "idle", 40, "idle"), 45
    )
    await hooks.type_prompt(commands, name, "Say hello please", timeline, live)
    await timeline.wait(lambda: timeline.of("assistant.final"), 30, "assistant.final")
    assert ANSWER in timeline.of("assistant.final")[-1].data["text"]

    reported = [str(e.data["session_id"]) for e in live.events if e.kind == "SessionStart"]
    assert reported, "no SessionStart hook reached the daemon"
    conversation = live.info().conversation
    assert conversation == reported[-1]
    assert [i.conversation for i in timeline.infos if i.name == name][-1] == conversation  # sent to the server
    # Claude's own record of that conversation: the transcript named by the id
    assert list((world.home / ".claude" / "projects").glob(f"*/{conversation}.jsonl")), "no transcript for the id"

    stopped = json.loads(await commands.handle(SessionStop(id="r2", session=name)) or "{}")
    assert stopped["ok"], stopped
    exited = [e for e in timeline.of("session.exited") if e.session == name]
    assert exited[-1].data == {"status": "stopped", "conversation": conversation}
    return conversation


async def resumed(daemon: Daemon, timeline: Any, world: Any, hooks: Any, conversation: str) -> None:
    commands = daemon.commands
    frame = SessionStart(id="r3", driver="claude", cwd=str(world.project), resume=conversation)
    started = json.loads(await commands.handle(frame) or "{}")
    assert started["ok"], started.get("error")
    name = started["result"]["session"]["name"]
    assert started["result"]["session"]["conversation"] == conversation
    live = daemon.registry.get(name)

    def resume_hook() -> list[Any]:
        return [e for e in live.events if e.kind == "SessionStart" and e.data.get("source") == "resume"]

    await timeline.wait(resume_hook, 40, "SessionStart hook with source resume")
    assert resume_hook()[-1].data["session_id"] == conversation
    screen = await hooks.until(lambda: _shows(hooks, live, ANSWER), 20, "the earlier answer on the resumed screen")
    assert screen
    assert live.info().conversation == conversation
    stopped = json.loads(await commands.handle(SessionStop(id="r4", session=name)) or "{}")
    assert stopped["ok"], stopped


async def _no_tmux_server(socket: str) -> bool:
    process = await asyncio.create_subprocess_exec(
        "tmux", "-L", socket, "list-sessions", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await process.wait() != 0


async def _shows(hooks: Any, live: Any, text: str) -> bool:
    return text in await hooks.capture(live)
