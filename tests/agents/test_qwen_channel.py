"""Qwen Code, the real CLI, run BY THE DAEMON in tmux against the fake model endpoint: state and chat from its
``--json-file`` event stream, then the conversation resumed with ``qwen --resume <id>``.

The daemon launches ``qwen`` through the imcodes-qwen driver, which adds ``--json-file`` in the session's private
folder; the daemon follows that file with the driver's channel (imcodes_qwen/channel.py). The prompt goes as the
phone sends it (``session.prompt``), the approval as ONE ``permission.answer`` with the key the plugin's parser
reads off the screen. The conversation id the channel reports is then resumed in a second session, and the
model's next request must carry the first session's exchange.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from imcodes_qwen.channel import CHANNEL_NAME
from imcodes_qwen.screen import permission_prompt

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.host import make_plugin_host
from imcodes_core.protocol.frames import SessionPrompt, SessionStart, SessionStop, TimelineEvent
from imcodes_core.states import SignalSource
from imcodes_core.testing.model_endpoint import FakeModelEndpoint

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

HELPERS = "imcodes_agent_cli_daemon_session"
TOOL_PROMPT = "Please RUNTOOL now"
LATER_PROMPT = "What did I ask you before"


def _helpers() -> Any:
    """daemon_session.py beside this file (this folder is no package): Timeline, waits, the one-answer approval."""
    if HELPERS not in sys.modules:
        spec = importlib.util.spec_from_file_location(HELPERS, Path(__file__).with_name("daemon_session.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[HELPERS] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[HELPERS])
    return sys.modules[HELPERS]


kit = _helpers()


def of(timeline: Any, name: str, kind: str, via: str | None = None) -> list[TimelineEvent]:
    return [e for e in timeline.of(kind) if e.session == name and (via is None or e.data.get("via") == via)]


def states(timeline: Any, name: str) -> list[str]:
    return [str(e.data["state"]) for e in of(timeline, name, "state.changed")]


async def start(daemon: Daemon, cwd: Path, resume: str | None = None) -> str:
    frame = SessionStart(id=f"start-{resume or 'new'}", driver="qwen", cwd=str(cwd), resume=resume)
    started = json.loads(await daemon.commands.handle(frame) or "{}")
    assert started["ok"], started
    return str(started["result"]["session"]["name"])


async def prompt(daemon: Daemon, name: str, text: str) -> None:
    ack = json.loads(await daemon.commands.handle(SessionPrompt(id=f"p-{text[:8]}", session=name, text=text)) or "{}")
    assert ack["ok"] and ack["result"]["verified"], ack.get("error")


async def test_qwen_json_file_channel_drives_the_daemon_and_resume_continues(
    agent_world: Any,
    fake_model_endpoint: FakeModelEndpoint,
    tmux_socket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command, _version = kit.support().installed_cli("qwen")
    for key, value in agent_world.env.items():  # the daemon's tmux server starts with this environment
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("IMCODES_QWEN_BINARY", str(command))
    # imcodes-qwen reads its endpoint settings when the host is made: --auth-type openai, OPENAI_BASE_URL
    monkeypatch.setenv("IMCODES_QWEN_BASE_URL", f"{fake_model_endpoint.url}/v1")
    monkeypatch.setenv("IMCODES_QWEN_MODEL", fake_model_endpoint.models[0])
    daemon = Daemon(DaemonConfig.create(tmp_path / "d"), make_plugin_host())
    timeline = kit.Timeline()
    daemon.registry.publisher = timeline
    task = asyncio.create_task(daemon.serve(install_signals=False))
    try:
        await asyncio.wait_for(daemon.started.wait(), 10)
        conversation = await tool_turn(daemon, timeline, agent_world)
        await resumed_turn(daemon, timeline, agent_world, fake_model_endpoint, conversation)
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 15)
        kit.support().stop_processes_with_home(agent_world.home)


async def tool_turn(daemon: Daemon, timeline: Any, world: Any) -> str:
    """A prompt whose answer is a tool call, approved once; returns the conversation id the channel reported."""
    name = await start(daemon, world.project)
    live = daemon.registry.get(name)
    events_file = Path(live.record.channel["events"])
    assert events_file.parent == daemon.registry.followers.state_dir(name)
    await timeline.wait(lambda: states(timeline, name)[-1:] == ["idle"], 60, "idle")
    await kit.until(lambda: _exists(events_file), 30, "qwen's json-file")

    await prompt(daemon, name, TOOL_PROMPT)
    await timeline.wait(lambda: states(timeline, name)[-1:] == ["waiting_permission"], 30, "waiting_permission")
    assert not world.tool_output.exists(), "the tool ran before it was approved"

    async def channel_in_evidence() -> bool:  # the screen may say it first; the channel's reading must be there
        return any(
            r.detector == "qwen-events"
            and r.source is SignalSource.STRUCTURED
            and "can_use_tool: run_shell_command" in r.evidence
            for r in live.verdict.readings
        )

    await kit.until(channel_in_evidence, 10, "can_use_tool from the json-file in the verdict's evidence")
    assert live.verdict.state.value == "waiting_permission", live.verdict.reason

    await kit.approve_once(daemon, name, live, permission_prompt, "Yes")
    await timeline.wait(lambda: of(timeline, name, "assistant.final", CHANNEL_NAME), 40, "assistant.final")
    await timeline.wait(lambda: states(timeline, name)[-1:] == ["idle"], 10, "idle after the tool")
    assert world.tool_output.exists(), "the approved tool did not run"
    flow = kit.dedupe(states(timeline, name))
    assert flow[flow.index("idle") :][:5] == ["idle", "working", "waiting_permission", "working", "idle"], (
        timeline.reasons()
    )
    final_idle = of(timeline, name, "state.changed")[-1]
    assert str(final_idle.data["reason"]).startswith("qwen-events: message_stop: final assistant message"), (
        final_idle.data
    )
    assert final_idle.data["source"] == "structured"

    assert [e.data["text"] for e in of(timeline, name, "user.prompt", CHANNEL_NAME)] == [TOOL_PROMPT]
    (call,) = of(timeline, name, "tool.call", CHANNEL_NAME)
    assert call.data["tool"] == "run_shell_command" and "fake_tool_output.txt" in call.data["input"]
    (asked,) = of(timeline, name, "permission.requested", CHANNEL_NAME)
    assert asked.data["tool"] == "run_shell_command" and asked.data["id"] == call.data["id"]
    assert "fake_tool_output.txt" in asked.data["input"]
    assert [e.data["allowed"] for e in of(timeline, name, "permission.answered", CHANNEL_NAME)] == [True]
    assert [e.data["id"] for e in of(timeline, name, "tool.result", CHANNEL_NAME)] == [call.data["id"]]
    finals = [e.data["text"] for e in of(timeline, name, "assistant.final", CHANNEL_NAME)]
    assert finals == ["The command ran. FAKE_TOOL_DONE"]
    assert "FAKE_TOOL_DONE" in "".join(e.data["text"] for e in of(timeline, name, "assistant.delta", CHANNEL_NAME))

    first = json.loads((await asyncio.to_thread(events_file.read_text)).splitlines()[0])
    assert first["type"] == "system" and first["subtype"] == "session_start"
    conversation = str(first["session_id"])
    assert live.record.conversation == conversation
    assert timeline.infos[-1].conversation == conversation
    stopped = json.loads(await daemon.commands.handle(SessionStop(id="stop-1", session=name)) or "{}")
    assert stopped["ok"], stopped
    return conversation


async def resumed_turn(
    daemon: Daemon, timeline: Any, world: Any, endpoint: FakeModelEndpoint, conversation: str
) -> None:
    """``resume=<id>``: Qwen reopens the conversation; its next model request carries the earlier exchange."""
    name = await start(daemon, world.project, resume=conversation)
    live = daemon.registry.get(name)
    await timeline.wait(lambda: states(timeline, name)[-1:] == ["idle"], 60, "idle after resume")
    await kit.until(lambda: kit.shows(live, "FAKE_TOOL_DONE"), 20, "the earlier answer on the resumed screen")

    await prompt(daemon, name, LATER_PROMPT)
    await timeline.wait(lambda: of(timeline, name, "assistant.final", CHANNEL_NAME), 40, "assistant.final")
    assert [e.data["text"] for e in of(timeline, name, "assistant.final", CHANNEL_NAME)] == [
        "Hello from the fake model. FAKE_OK"
    ]
    assert live.record.conversation == conversation  # the same conversation goes on (the channel says so too)

    asked = [r for r in endpoint.requests if r.api == "openai-chat" and LATER_PROMPT in last_user_text(r.body)]
    assert asked, "no model request with the later prompt"
    history = json.dumps(asked[0].body)
    assert TOOL_PROMPT in history and "FAKE_TOOL_DONE" in history, "the resumed request lacks the earlier exchange"
    stopped = json.loads(await daemon.commands.handle(SessionStop(id="stop-2", session=name)) or "{}")
    assert stopped["ok"], stopped


def last_user_text(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    users = [m for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
    return json.dumps(users[-1].get("content")) if users else ""


async def _exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)
