"""Transport (ACP) sessions through the daemon: a real ACP peer process (tests/core/acp/tiny_agent.py, then the
real ``qwen --acp``) driven by commands from a real WebSocket peer, without tmux panes."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.drivers import DriverKind, InputDelivery, LaunchPlan, LaunchRequest
from imcodes_core.hookspecs import hookimpl
from imcodes_core.host import make_plugin_host
from imcodes_core.specs import AgentDriverSpec

TINY_AGENT = Path(__file__).parents[1] / "acp" / "tiny_agent.py"


def _acp_worlds() -> Any:
    """The real ACP agents' worlds (tests/core/acp/conftest.py): a HOME, a project, the fake endpoint's env."""
    spec = importlib.util.spec_from_file_location("acp_worlds", Path(__file__).parents[1] / "acp" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_ACP = _acp_worlds()
acp_world = _ACP.acp_world  # the fixture, shared with the ACP tests


class TinyAcpDriver:
    name = "tiny-acp"
    kind = DriverKind.TRANSPORT
    input_delivery = InputDelivery.TRANSPORT
    executable = None

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, "IMCODES_SESSION": request.session}
        return LaunchPlan([sys.executable, str(TINY_AGENT)], env, request.cwd)

    def installed_version(self) -> str | None:
        return None


class TinyAcpPlugin:
    @hookimpl
    def imcodes_agent_drivers(self) -> list[AgentDriverSpec]:
        return [AgentDriverSpec(name="tiny-acp", driver=TinyAcpDriver(), kind=DriverKind.TRANSPORT)]


async def linked(harness: Any, host: Any) -> Daemon:
    daemon = Daemon(DaemonConfig.create(harness.home), host)
    harness.daemon = daemon
    harness.task = asyncio.create_task(daemon.serve(install_signals=False))
    await asyncio.wait_for(daemon.started.wait(), 10)
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    await harness.peer.wait_for(lambda: harness.peer.find("sessions.sync"), what="sessions.sync")
    return daemon


def kinds(peer: Any, session: str) -> list[str]:
    return [e["kind"] for e in peer.events(session)]


def states(peer: Any, session: str) -> list[str]:
    return [e["data"]["state"] for e in peer.events(session, "state.changed")]


async def wait_state(peer: Any, session: str, state: str, after: int = 0, within: float = 15) -> None:
    await peer.wait_for(lambda: state in states(peer, session)[after:], within, f"state {state} of {session}")


async def test_a_transport_session_is_started_prompted_asked_interrupted_and_stopped(
    harness: Any, tmp_path: Path
) -> None:
    host = make_plugin_host(load_entry_points=False)
    host.register(TinyAcpPlugin(), "tiny-acp-test")
    daemon = await linked(harness, host)
    peer = harness.peer

    ack = await peer.command("session.start", driver="tiny-acp", cwd=str(tmp_path), label="tiny")
    assert ack["ok"], ack
    info = ack["result"]["session"]
    name = info["name"]
    assert info["driver"] == "tiny-acp" and info["state"] == "idle"
    assert "session/new answered" in info["state_reason"]["readings"][0]["evidence"]
    assert harness.tmux("list-sessions").stdout.count(name) == 0  # no pane anywhere
    updated = await peer.wait_for(lambda: [f for f in peer.frames if f["type"] == "session.updated"])
    assert updated[-1]["session"]["name"] == name
    assert states(peer, name)[:2] == ["starting", "idle"]
    assert peer.events(name, "state.changed")[-1]["data"]["detector"] == "acp"

    no_terminal = await peer.command("terminal.subscribe", session=name)
    assert not no_terminal["ok"] and "no terminal: use the chat view" in no_terminal["error"]

    # a text turn: the streamed chunks coalesce into one assistant.delta, then the final text
    assert (await peer.command("session.prompt", session=name, text="hello"))["ok"]
    await peer.wait_for(lambda: peer.events(name, "assistant.final"), what="assistant.final")
    assert [e["data"] for e in peer.events(name, "user.prompt")] == [{"text": "hello"}]
    assert [e["data"]["text"] for e in peer.events(name, "assistant.delta")] == ["Hello there."]
    assert peer.events(name, "assistant.final")[0]["data"] == {"text": "Hello there.", "stop_reason": "end_turn"}
    await wait_state(peer, name, "idle", 2)
    assert states(peer, name)[2:] == ["working", "idle"]

    # a permission question goes to the phone with its options; the answer is the option id
    seen = len(states(peer, name))
    assert (await peer.command("session.prompt", session=name, text="ASK"))["ok"]
    asked = await peer.wait_for(lambda: peer.events(name, "permission.requested"), what="permission.requested")
    assert asked[0]["data"]["title"] == "rm -rf build" and asked[0]["data"]["tool_kind"] == "execute"
    assert [(o["id"], o["name"]) for o in asked[0]["data"]["options"]] == [("yes", "Allow"), ("no", "Reject")]
    await wait_state(peer, name, "waiting_permission", seen)
    synced = next(f for f in reversed(peer.frames) if f["type"] == "session.updated")
    assert synced["session"]["state"] == "waiting_permission"
    busy = await peer.command("session.prompt", session=name, text="hello")
    assert not busy["ok"] and "busy" in busy["error"]
    wrong = await peer.command("permission.answer", session=name, choice="maybe")
    assert not wrong["ok"] and "yes (Allow)" in wrong["error"]
    answered = await peer.command("permission.answer", session=name, choice="yes")
    assert answered["ok"] and answered["result"]["option_id"] == "yes", answered
    await wait_state(peer, name, "idle", seen)
    (answer,) = peer.events(name, "permission.answered")
    assert answer["data"]["option_id"] == "yes" and answer["data"]["request_id"] == asked[0]["data"]["request_id"]
    assert "tool.call" in kinds(peer, name) and "tool.result" in kinds(peer, name)
    assert peer.events(name, "assistant.final")[-1]["data"]["text"] == "outcome=yes"
    again = await peer.command("permission.answer", session=name, choice="yes")
    assert not again["ok"] and "no open permission question" in again["error"]

    # interrupt: a turn that never ends is cancelled with session/cancel
    idle = await peer.command("session.interrupt", session=name)
    assert not idle["ok"] and "nothing to interrupt" in idle["error"]
    seen = len(states(peer, name))
    assert (await peer.command("session.prompt", session=name, text="HANG"))["ok"]
    await wait_state(peer, name, "working", seen)
    stopped = await peer.command("session.interrupt", session=name)
    assert stopped["ok"] and stopped["result"] == {"cancelled": True}
    await peer.wait_for(
        lambda: any(e["data"].get("stop_reason") == "cancelled" for e in peer.events(name, "turn.ended")),
        what="the cancelled turn",
    )
    await wait_state(peer, name, "idle", seen + 1)

    # the session is listed after a reconnect like any other
    assert name in [s.name for s in daemon.registry.infos()]

    pid = daemon.registry.transports.sessions[name].acp.connection.pid  # type: ignore[union-attr]
    assert pid is not None
    assert (await peer.command("session.stop", session=name))["ok"]
    await peer.wait_for(lambda: peer.find("session.removed", session=name), what="session.removed")
    assert peer.events(name, "session.exited")[-1]["data"]["status"] == "stopped"
    assert states(peer, name)[-1] == "exited"
    with pytest.raises(ProcessLookupError):  # the agent was stopped and reaped
        os.kill(pid, 0)
    assert name not in [s.name for s in daemon.registry.infos()]


async def test_an_agent_that_exits_on_its_own_ends_its_session(harness: Any, tmp_path: Path) -> None:
    host = make_plugin_host(load_entry_points=False)
    host.register(TinyAcpPlugin(), "tiny-acp-test")
    await linked(harness, host)
    peer = harness.peer
    ack = await peer.command("session.start", driver="tiny-acp", cwd=str(tmp_path))
    name = ack["result"]["session"]["name"]
    assert (await peer.command("session.prompt", session=name, text="CRASH"))["ok"]
    await peer.wait_for(lambda: peer.find("session.removed", session=name), what="session.removed")
    assert peer.events(name, "session.exited")[-1]["data"]["status"] == 3
    assert "error" in states(peer, name)
    gone = await peer.command("session.prompt", session=name, text="hello")
    assert not gone["ok"] and "no session" in gone["error"]


@pytest.fixture
def qwen_cli() -> Path:
    """The installed qwen (looked up before the harness points HOME at tmp_path), or skip saying why."""
    return Path(_ACP.installed_cli("qwen")[0])


@pytest.mark.agent_cli
@pytest.mark.slow
async def test_qwen_acp_through_the_daemon_asks_the_phone_and_finishes(
    qwen_cli: Path, acp_world: Any, harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    qwen = qwen_cli
    if shutil.which("node", path=str(qwen.parent) + ":/usr/local/bin:/usr/bin:/bin") is None:
        pytest.skip("no node to run qwen")
    for key, value in acp_world.env.items():
        monkeypatch.setenv(key, value)  # the daemon's environment is the agent's: HOME, XDG_*, OPENAI_*
    monkeypatch.setenv("IMCODES_QWEN_BINARY", str(qwen))
    monkeypatch.setenv("IMCODES_QWEN_AUTH_TYPE", "openai")
    daemon = await linked(harness, make_plugin_host())
    peer = harness.peer
    assert str(daemon.host.agent_driver("qwen-acp").kind) == "transport"

    ack = await peer.command("session.start", driver="qwen-acp", cwd=str(acp_world.project), within=60)
    assert ack["ok"], ack
    name = ack["result"]["session"]["name"]
    assert (await peer.command("session.prompt", session=name, text="Please RUNTOOL now"))["ok"]
    asked = await peer.wait_for(lambda: peer.events(name, "permission.requested"), 60, "permission.requested")
    assert asked[0]["data"]["tool_kind"] == "execute"
    assert not acp_world.tool_output.exists(), "the tool ran before it was approved"
    allow = next(o for o in asked[0]["data"]["options"] if o["kind"] == "allow_once")
    answered = await peer.command("permission.answer", session=name, choice=allow["id"])
    assert answered["ok"], answered
    final = await peer.wait_for(lambda: peer.events(name, "assistant.final"), 60, "assistant.final")
    assert final[-1]["data"]["text"].endswith("The command ran. FAKE_TOOL_DONE")
    assert acp_world.tool_output.read_text().strip() == "FAKE_TOOL_OK"
    assert peer.events(name, "permission.answered")[0]["data"]["option_kind"] == "allow_once"
    assert "tool.result" in kinds(peer, name)
    await wait_state(peer, name, "idle", states(peer, name).index("waiting_permission"))
    assert (await peer.command("session.stop", session=name, within=20))["ok"]
    assert states(peer, name)[-1] == "exited"
