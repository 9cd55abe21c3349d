"""OpenCode, the real CLI, run BY THE DAEMON in tmux against the fake model endpoint: state and chat from its SSE.

The daemon launches ``opencode --port N`` through the imcodes-opencode driver (N a free loopback port it picked and
stored as the session's channel) and follows ``GET /event`` with the driver's ``OpenCodeEventChannel``. The test
prompts through ``session.prompt``, approves with one ``permission.answer``, and reads the daemon's timeline: the
state sequence with the SSE events named as evidence, the chat events with the fake's exact answer, OpenCode's
session id as the session's conversation. Then the session is stopped and started again with ``resume`` = that id
(``opencode --session <id>``): the next request the fake model gets carries the earlier turn.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from imcodes_opencode.config import offline_config
from imcodes_opencode.screen import permission_prompt

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.host import make_plugin_host
from imcodes_core.protocol.frames import SessionPrompt, SessionStart, SessionStop

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

HELPERS = "imcodes_agent_cli_daemon_session"
CHANNEL = "opencode-sse"
READY_SECONDS = 45  # offline OpenCode takes 10-18 s before its first paint (more on a loaded machine)


def helpers() -> Any:
    if HELPERS not in sys.modules:
        spec = importlib.util.spec_from_file_location(HELPERS, Path(__file__).with_name("daemon_session.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[HELPERS] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[HELPERS])
    return sys.modules[HELPERS]


def via_sse(timeline: Any, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in timeline.of(kind) if e.data.get("via") == CHANNEL]


async def command(daemon: Daemon, frame: Any) -> dict[str, Any]:
    answer = json.loads(await daemon.commands.handle(frame) or "{}")
    assert answer["ok"], answer
    return dict(answer.get("result") or {})


async def start(daemon: Daemon, world: Any, frame_id: str, resume: str | None = None) -> tuple[str, Any]:
    started = await command(
        daemon, SessionStart(id=frame_id, driver="opencode", cwd=str(world.project), resume=resume)
    )
    name = started["session"]["name"]
    return name, daemon.registry.get(name)


async def prompt(daemon: Daemon, name: str, text: str) -> dict[str, Any]:
    """``session.prompt`` once OpenCode takes input: right after the first paint it may still drop keys."""
    last: dict[str, Any] = {}
    for attempt in range(3):
        frame = SessionPrompt(id=f"prompt-{name}-{attempt}", session=name, text=text)  # ids are answered once
        last = json.loads(await daemon.commands.handle(frame))
        if last["ok"]:
            return dict(last["result"])
        await asyncio.sleep(1.0)
    raise AssertionError(f"session.prompt failed: {last}")


async def test_opencode_sse_channel_drives_the_daemon_and_resume_continues(
    agent_world: Any, tmux_socket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_model_endpoint: Any
) -> None:
    kit = helpers()
    executable, _version = kit.support().installed_cli("opencode")
    folder = agent_world.home / ".config" / "opencode"
    folder.mkdir(parents=True)
    config = offline_config(f"{fake_model_endpoint.url}/v1")
    (folder / "opencode.json").write_text(json.dumps(config), encoding="utf-8")
    for key, value in agent_world.env.items():  # the daemon's tmux server starts with this environment
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("IMCODES_OPENCODE_BINARY", str(executable))
    monkeypatch.setenv("IMCODES_OPENCODE_OFFLINE", "1")
    daemon = Daemon(DaemonConfig.create(tmp_path / "d"), make_plugin_host())
    timeline = kit.Timeline()
    daemon.registry.publisher = timeline
    task = asyncio.create_task(daemon.serve(install_signals=False))
    try:
        await asyncio.wait_for(daemon.started.wait(), 10)
        conversation = await first_session(daemon, timeline, agent_world, fake_model_endpoint, kit)
        await resumed_session(daemon, timeline, agent_world, fake_model_endpoint, kit, conversation)
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 15)
        kit.support().stop_processes_with_home(agent_world.home)


async def first_session(daemon: Daemon, timeline: Any, world: Any, fake: Any, kit: Any) -> str:
    began = time.monotonic()
    name, live = await start(daemon, world, "c1")
    port = live.record.channel["port"]
    argv = await kit.until(lambda: _pane_argv(live), 10, "the pane's command line")
    assert f"--port {port}" in argv, argv
    await timeline.wait(lambda: timeline.last_state() == "idle", READY_SECONDS, "idle")
    ready = time.monotonic() - began
    await asyncio.sleep(1.5)  # the channel's retries (<= 1 s apart) reach the server, up by the first paint at most
    # right after its first paint OpenCode may clear the screen once (an empty screen reads "starting")
    await timeline.wait(lambda: timeline.last_state() == "idle", 10, "idle again")

    before = len(timeline.states())
    await prompt(daemon, name, "Please RUNTOOL now")
    await timeline.wait(lambda: timeline.last_state() == "waiting_permission", 30, "waiting_permission")
    assert not world.tool_output.exists(), "the tool ran before it was approved"
    asked = [r for r in live.verdict.readings if r.detector == "opencode-events"]
    assert asked and asked[0].evidence.startswith("permission.asked: bash"), live.verdict.reason
    assert "fake_tool_output.txt" in asked[0].evidence, asked[0].evidence

    ack = await kit.approve_once(daemon, name, live, permission_prompt, "Allow once")
    assert ack["result"]["choice"] == "enter", ack
    await timeline.wait(lambda: via_sse(timeline, "assistant.final"), 30, "assistant.final")
    await timeline.wait(lambda: timeline.last_state() == "idle", 10, "idle after the tool")
    assert world.tool_output.exists(), "the approved tool did not run"
    # the API drives the agent: nobody without the session's password (the channel above had it)
    assert await asyncio.to_thread(_status_without_password, int(port)) == 401

    # OpenCode clears its whole screen now and then in its first seconds (a redraw a few seconds after the first
    # paint, the switch from the home view to the session view): the core's generic screen detector reads that
    # empty screen as "starting" for a moment. Those blips aside, from the last idle before the prompt:
    changes = [e for e in timeline.of("state.changed")[before:] if e.data["state"] != "starting"]
    assert len(timeline.of("state.changed")[before:]) - len(changes) <= 2, "\n".join(timeline.reasons())
    while changes and changes[0].data["state"] == "idle":
        changes.pop(0)
    states = [str(e.data["state"]) for e in changes]
    assert kit.dedupe(states) == ["working", "waiting_permission", "working", "idle"], "\n".join(timeline.reasons())
    reasons = [str(e.data["reason"]) for e in changes]
    # working may come from the screen first (the footer's "esc interrupt"); the question and the end of the turn
    # come from the event stream
    assert reasons[1].startswith("opencode-events: permission.asked: bash"), reasons
    assert reasons[-1].startswith("opencode-events: session"), reasons
    assert changes[-1].data["source"] == "structured", reasons

    assert [d["text"] for d in via_sse(timeline, "user.prompt")] == ["Please RUNTOOL now"]
    (call,) = via_sse(timeline, "tool.call")
    assert call["tool"] == "bash" and "fake_tool_output.txt" in call["input"], call
    (requested,) = via_sse(timeline, "permission.requested")
    assert requested["tool"] == "bash" and requested["input"] == call["input"], requested
    assert [d["reply"] for d in via_sse(timeline, "permission.answered")] == ["once"]
    assert [d["id"] for d in via_sse(timeline, "tool.result")] == [call["id"]]
    assert [d["text"] for d in via_sse(timeline, "assistant.final")] == [fake.behaviour.after_tool_text]
    assert "".join(d["text"] for d in via_sse(timeline, "assistant.delta")).endswith("FAKE_TOOL_DONE")
    await kit.until(lambda: kit.shows(live, "FAKE_TOOL_DONE"), 5, "the answer on screen")

    conversation = str(live.record.conversation or "")
    assert conversation.startswith("ses_"), conversation
    await command(daemon, SessionStop(id="c2", session=name))
    (exited,) = timeline.of("session.exited")
    assert exited.data == {"status": "stopped", "conversation": conversation}, exited.data
    print(f"first session: ready after {ready:.1f}s, the turn done after {time.monotonic() - began:.1f}s")
    return conversation


async def resumed_session(daemon: Daemon, timeline: Any, world: Any, fake: Any, kit: Any, conversation: str) -> None:
    began = time.monotonic()
    timeline.events.clear()
    fake.clear()
    name, live = await start(daemon, world, "c3", resume=conversation)
    assert live.record.conversation == conversation
    argv = await kit.until(lambda: _pane_argv(live), 10, "the pane's command line")
    assert f"--session {conversation}" in argv, argv
    await timeline.wait(lambda: timeline.last_state() == "idle", READY_SECONDS, "idle after resume")
    await kit.until(lambda: kit.shows(live, "FAKE_TOOL_DONE"), 10, "the earlier answer on screen")

    await prompt(daemon, name, "And what happened before?")
    try:
        await timeline.wait(lambda: via_sse(timeline, "assistant.final"), 30, "the resumed turn's assistant.final")
    except AssertionError as failed:
        raise AssertionError(f"{failed}\n--- screen ---\n{await kit.capture(live)}") from None
    await timeline.wait(lambda: timeline.last_state() == "idle", 10, "idle after the resumed turn")
    assert [d["text"] for d in via_sse(timeline, "assistant.final")] == [fake.behaviour.text]
    chats = [r for r in fake.requests if r.api == "openai-chat" and r.reply_kind == "text"]
    sent = json.dumps(chats[-1].body["messages"])
    for earlier in ("Please RUNTOOL now", "fake_tool_output.txt", fake.behaviour.after_tool_text):
        assert earlier in sent, f"the resumed request lacks {earlier!r}"
    assert live.record.conversation == conversation  # the same OpenCode session, continued
    await command(daemon, SessionStop(id="c4", session=name))
    print(f"resumed session: turn done after {time.monotonic() - began:.1f}s")


async def _pane_argv(live: Any) -> str:
    text = await live.tmux.run("display-message", "-p", "-t", f"={live.name}:", "#{pane_start_command}")
    return str(text).strip()


def _status_without_password(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/event", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code
