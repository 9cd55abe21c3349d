"""Transport (ACP) sessions that outlive their agent: session.start with resume (ACP session/load) and adoption
after a daemon restart, with a real ACP peer process (tests/core/acp/tiny_agent.py) that keeps its conversations
in its working folder and answers ``RECALL`` with the session's earlier prompts (proof of a loaded context); then the
real ``qwen --acp`` against the fake model endpoint (marker agent_cli), whose requests show the earlier turn."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.journal import read_events
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.drivers import DriverKind, InputDelivery, LaunchPlan, LaunchRequest
from imcodes_core.hookspecs import hookimpl
from imcodes_core.host import PluginHost, make_plugin_host
from imcodes_core.specs import AgentDriverSpec

TINY_AGENT = Path(__file__).parents[1] / "acp" / "tiny_agent.py"
# driver name -> tiny_agent.py's mode: offers session/load, does not, offers it but every load fails
MODES = {"tiny-load": "loadable", "tiny-noload": "", "tiny-loadfails": "load-fails"}


class TinyDriver:
    kind = DriverKind.TRANSPORT
    input_delivery = InputDelivery.TRANSPORT
    executable = None

    def __init__(self, name: str) -> None:
        self.name = name

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        mode = [MODES[self.name]] if MODES[self.name] else []
        return LaunchPlan([sys.executable, str(TINY_AGENT), *mode], dict(request.env), request.cwd)

    def installed_version(self) -> str | None:
        return None


class TinyPlugin:
    @hookimpl
    def imcodes_agent_drivers(self) -> list[AgentDriverSpec]:
        return [AgentDriverSpec(name=n, driver=TinyDriver(n), kind=DriverKind.TRANSPORT) for n in MODES]


def tiny_host() -> PluginHost:
    host = make_plugin_host(load_entry_points=False)
    host.register(TinyPlugin(), "tiny-transports")
    return host


async def linked(harness: Any, host: PluginHost | None = None) -> Daemon:
    """A daemon on the harness' home, linked to its peer (the peer keeps the frames of earlier daemons)."""
    seen = len(harness.peer.frames)
    daemon = Daemon(DaemonConfig.create(harness.home), host or tiny_host())
    harness.daemon = daemon
    harness.task = asyncio.create_task(daemon.serve(install_signals=False))
    await asyncio.wait_for(daemon.started.wait(), 10)
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    await harness.peer.wait_for(lambda: sync(harness.peer, seen), what="sessions.sync")
    return daemon


def sync(peer: Any, after: int) -> dict[str, Any] | None:
    return next((f for f in peer.frames[after:] if f["type"] == "sessions.sync"), None)


async def start(peer: Any, driver: str, cwd: Path, **fields: Any) -> dict[str, Any]:
    ack = await peer.command("session.start", driver=driver, cwd=str(cwd), **fields)
    assert ack["ok"], ack
    return dict(ack["result"]["session"])


async def turn(peer: Any, name: str, text: str, within: float = 10) -> str:
    """Send a prompt and wait for its answer (the newest assistant.final that is not a replay)."""
    before = len(peer.events(name, "assistant.final"))
    assert (await peer.command("session.prompt", session=name, text=text))["ok"]
    finals = await peer.wait_for(lambda: peer.events(name, "assistant.final")[before:], within, f"answer to {text}")
    return str(finals[-1]["data"]["text"])


async def test_a_stopped_conversation_is_resumed_with_session_load_and_its_replay_shown_once(
    harness: Any, tmp_path: Path
) -> None:
    await linked(harness)
    peer = harness.peer
    first = await start(peer, "tiny-load", tmp_path)
    conversation = first["conversation"]
    assert conversation and conversation.startswith("tiny-")  # the agent's ACP sessionId
    assert await turn(peer, first["name"], "hello") == "Hello there."
    assert (await peer.command("session.stop", session=first["name"]))["ok"]
    exited = peer.events(first["name"], "session.exited")[-1]["data"]
    assert exited["status"] == "stopped" and exited["conversation"] == conversation  # what Resume offers

    second = await start(peer, "tiny-load", tmp_path, resume=conversation, label="again")
    name = second["name"]
    assert name != first["name"] and second["conversation"] == conversation and second["state"] == "idle"
    assert "session/load answered" in second["state_reason"]["readings"][0]["evidence"]
    resumed = peer.events(name, "session.resumed")
    assert [e["data"] for e in resumed] == [{"conversation": conversation, "replayed": 2}]
    replay = [(e["kind"], e["data"]) for e in peer.events(name) if e["data"].get("replayed") is True]
    assert replay == [
        ("user.prompt", {"text": "hello", "replayed": True}),
        ("assistant.final", {"text": "Hello there.", "replayed": True}),
    ]
    assert await turn(peer, name, "RECALL") == "earlier: hello"  # the agent has the first turn in context

    twice = await peer.command("session.start", driver="tiny-load", cwd=str(tmp_path), resume=conversation)
    assert not twice["ok"] and f"is open in session {name!r}" in twice["error"]
    assert (await peer.command("session.stop", session=name))["ok"]


async def test_resume_is_refused_when_the_agent_cannot_load(harness: Any, tmp_path: Path) -> None:
    daemon = await linked(harness)
    peer = harness.peer
    plain = await start(peer, "tiny-noload", tmp_path)
    assert plain.get("conversation") is None  # nothing to offer for Resume: the agent could not reload it
    refused = await peer.command("session.start", driver="tiny-noload", cwd=str(tmp_path), resume="tiny-session-1")
    assert not refused["ok"]
    assert "cannot reopen a conversation" in refused["error"] and "loadSession" in refused["error"]
    failing = await peer.command("session.start", driver="tiny-loadfails", cwd=str(tmp_path), resume="tiny-x-1")
    assert not failing["ok"]
    assert "could not reopen conversation tiny-x-1" in failing["error"] and "No previous sessions" in failing["error"]
    assert [i.name for i in daemon.registry.infos()] == [plain["name"]]  # the refused ones are gone
    assert (await peer.command("session.stop", session=plain["name"]))["ok"]


async def test_after_a_daemon_restart_the_session_continues_its_conversation_under_the_same_name(
    harness: Any, tmp_path: Path
) -> None:
    await linked(harness)
    peer = harness.peer
    kept = await start(peer, "tiny-load", tmp_path, label="kept")
    name, conversation = kept["name"], kept["conversation"]
    plain = await start(peer, "tiny-noload", tmp_path)
    failing = await start(peer, "tiny-loadfails", tmp_path)
    assert await turn(peer, name, "hello") == "Hello there."
    await harness.stop_daemon()

    stored = json.loads((harness.home / "transports.json").read_text())["sessions"]
    assert sorted(s["name"] for s in stored) == sorted([name, failing["name"]])  # those with a conversation
    assert next(s for s in stored if s["name"] == name)["label"] == "kept"
    plain_journal = harness.home / "daemon" / "timeline" / f"{plain['name']}.jsonl"
    assert read_events(plain_journal)[-1].data["status"] == "daemon stopped"
    last = read_events(harness.home / "daemon" / "timeline" / f"{name}.jsonl")[-1]

    seen = len(peer.frames)
    daemon = await linked(harness)
    listed = {s["name"]: s for s in sync(peer, seen)["sessions"]}  # type: ignore[index]
    assert listed[name]["conversation"] == conversation and listed[name]["label"] == "kept"
    adopted = await peer.wait_for(lambda: peer.events(name, "session.adopted"), what="session.adopted")
    assert adopted[0]["data"]["conversation"] == conversation and adopted[0]["data"]["replayed"] == 2
    assert "reloaded its conversation" in adopted[0]["data"]["note"]
    assert (adopted[0]["epoch"], adopted[0]["seq"]) > (last.epoch, last.seq)  # the same journal goes on
    assert not [e for e in peer.events(name) if e["data"].get("replayed") is True]  # not journaled twice
    assert await turn(peer, name, "RECALL") == "earlier: hello"
    info = next(i for i in daemon.registry.infos() if i.name == name)
    assert info.state == "idle" and info.conversation == conversation

    gone = await peer.wait_for(lambda: peer.events(failing["name"], "session.exited"), what="the failed load")
    assert gone[-1]["data"]["conversation"] == failing["conversation"]
    assert "not reloaded after the daemon restarted" in gone[-1]["data"]["note"]
    assert plain["name"] not in [i.name for i in daemon.registry.infos()]
    stored = json.loads((harness.home / "transports.json").read_text())["sessions"]
    assert [s["name"] for s in stored] == [name]
    assert (await peer.command("session.stop", session=name))["ok"]
    assert json.loads((harness.home / "transports.json").read_text())["sessions"] == []


async def test_a_stored_session_whose_driver_is_gone_is_recorded_as_ended(harness: Any) -> None:
    timeline = harness.home / "daemon" / "timeline"
    timeline.mkdir(parents=True)
    started = {"session": "old-1", "epoch": 3, "seq": 7, "at": 1.0, "kind": "session.started", "data": {}}
    (timeline / "old-1.jsonl").write_text(json.dumps(started) + "\n")
    record = {"name": "old-1", "driver": "no-such-driver", "cwd": "/", "epoch": 3, "conversation": "c-1"}
    (harness.home / "transports.json").write_text(json.dumps({"version": 1, "sessions": [record]}))
    daemon = await linked(harness)
    ended = await harness.peer.wait_for(lambda: harness.peer.events("old-1", "session.exited"), what="exited")
    assert (ended[0]["epoch"], ended[0]["seq"]) == (3, 8)
    assert ended[0]["data"]["conversation"] == "c-1" and "not installed" in ended[0]["data"]["note"]
    assert daemon.registry.infos() == []
    assert json.loads((harness.home / "transports.json").read_text())["sessions"] == []


def _acp_worlds() -> Any:
    """The real ACP agents' worlds (tests/core/acp/conftest.py), loaded once (test_transport.py loads it too)."""
    if "acp_worlds" in sys.modules:
        return sys.modules["acp_worlds"]
    spec = importlib.util.spec_from_file_location("acp_worlds", Path(__file__).parents[1] / "acp" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_ACP = _acp_worlds()
acp_world = _ACP.acp_world  # the fixture, shared with the ACP tests
WORD = "ZEBRAQUUX"  # in the first turn only: a later model request that carries it has the earlier turn in context


@pytest.fixture
def qwen_cli() -> Path:
    """The installed qwen (looked up before the harness points HOME at tmp_path), or skip saying why."""
    qwen = Path(_ACP.installed_cli("qwen")[0])
    if shutil.which("node", path=str(qwen.parent) + ":/usr/local/bin:/usr/bin:/bin") is None:
        pytest.skip("no node to run qwen")
    return qwen


def asked_with_the_word(world: Any, after: int) -> bool:
    return any(WORD in json.dumps(r.body) for r in world.endpoint.requests[after:] if r.api == "openai-chat")


@pytest.mark.agent_cli
@pytest.mark.slow
async def test_qwen_acp_survives_a_daemon_restart_and_resumes_after_a_stop(
    qwen_cli: Path, acp_world: Any, harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in acp_world.env.items():
        monkeypatch.setenv(key, value)  # the daemon's environment is the agent's: HOME, XDG_*, OPENAI_*
    monkeypatch.setenv("IMCODES_QWEN_BINARY", str(qwen_cli))
    monkeypatch.setenv("IMCODES_QWEN_AUTH_TYPE", "openai")
    await linked(harness, make_plugin_host())
    peer = harness.peer
    ack = await peer.command("session.start", driver="qwen-acp", cwd=str(acp_world.project), within=60)
    assert ack["ok"], ack
    name, conversation = ack["result"]["session"]["name"], ack["result"]["session"]["conversation"]
    assert conversation  # Qwen Code 0.24.4 offers loadSession: its ACP sessionId is the conversation
    assert "FAKE_OK" in await turn(peer, name, f"Remember the word {WORD}.", 60)
    await harness.stop_daemon()
    assert [s["name"] for s in json.loads((harness.home / "transports.json").read_text())["sessions"]] == [name]

    daemon = await linked(harness, make_plugin_host())
    adopted = await peer.wait_for(lambda: peer.events(name, "session.adopted"), 60, "session.adopted")
    assert adopted[0]["data"]["conversation"] == conversation and adopted[0]["data"]["replayed"] >= 2
    info = next(i for i in daemon.registry.infos() if i.name == name)
    assert info.conversation == conversation and info.state == "idle"
    seen = len(acp_world.endpoint.requests)
    assert "FAKE_OK" in await turn(peer, name, "Which word did I ask you to remember?", 60)
    assert asked_with_the_word(acp_world, seen), "the reloaded agent sent the model no earlier turn"

    assert (await peer.command("session.stop", session=name, within=20))["ok"]
    assert peer.events(name, "session.exited")[-1]["data"]["conversation"] == conversation
    ack = await peer.command(
        "session.start", driver="qwen-acp", cwd=str(acp_world.project), resume=conversation, within=60
    )
    assert ack["ok"], ack
    resumed = ack["result"]["session"]["name"]
    replay = [e["data"]["text"] for e in peer.events(resumed, "user.prompt") if e["data"].get("replayed")]
    assert replay[:2] == [f"Remember the word {WORD}.", "Which word did I ask you to remember?"]
    seen = len(acp_world.endpoint.requests)
    assert "FAKE_OK" in await turn(peer, resumed, "And once more?", 60)
    assert asked_with_the_word(acp_world, seen)
    assert (await peer.command("session.stop", session=resumed, within=20))["ok"]
