"""The REAL ``openclaw acp`` (driver ``openclaw-acp``), offline against the fake model endpoint.

``openclaw acp`` is a bridge to an OpenClaw Gateway. OpenClaw's config points its model at the fake endpoint and
asks before every exec (``tools.exec.mode: "ask"``), so the fake model's tool call becomes a Gateway exec approval,
relayed by the bridge as ``session/request_permission``.

- Through the daemon, with the Gateway already running (as a user's Gateway service runs): the launcher joins it;
  prompt -> permission to the phone (the test's peer) -> answer -> the tool runs -> final text -> idle.
- The launcher with no Gateway running: it starts one for the session and stops it with the session. Not through
  the daemon: a cold Gateway takes 10 s here and over 45 s on a loaded 2-core machine, longer than the daemon
  gives a transport to start (START_SECONDS) and than its server link survives one long command (see the
  imcodes-openclaw README).
- ``session/load`` (2026.9.6 offers ``loadSession``): a conversation reopened by a new launcher whose Gateway is a
  new one (the Gateway keeps sessions in OpenClaw's state directory); through the daemon, adoption after a daemon
  restart and resume by conversation id after a stop. Each time the replay holds the earlier prompt and the next
  model request carries it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.acp import AcpSession
from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.drivers import LaunchRequest
from imcodes_core.host import make_plugin_host

pytestmark = [pytest.mark.agent_cli, pytest.mark.slow]
bridge = pytest.importorskip("imcodes_openclaw.bridge", reason="the imcodes-openclaw plugin is not installed")
openclaw_plugin = pytest.importorskip("imcodes_openclaw.plugin")
TURN_SECONDS = 60
GATEWAY_SECONDS = 100  # a cold Gateway: ~10 s here, over 45 s on a loaded 2-core machine
# OpenClaw refuses to bind an approval to a command with a shell redirection ("SYSTEM_RUN_DENIED: approval
# cannot safely bind this command"), so the tool call is a plain command that leaves a file.
TOOL_COMMAND = "touch fake_tool_output.txt"


def _load(name: str, path: Path) -> Any:
    """A conftest as a module (with --import-mode=importlib a test folder is no package to import from)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_ACP = _load("openclaw_acp_worlds", Path(__file__).with_name("conftest.py"))  # installed_cli
harness = _load("openclaw_acp_daemon_harness", Path(__file__).parents[1] / "daemon" / "conftest.py").harness


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gateway_answers(port: int, path: str = "/healthz") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def write_openclaw_config(world: Any) -> None:
    """~/.openclaw/openclaw.json: the fake endpoint as an OpenAI-compatible provider, asking before every exec."""
    model = {"id": "fake-model", "name": "fake-model", "contextWindow": 128000, "maxTokens": 8192}
    provider = {
        "baseUrl": f"{world.endpoint.url}/v1",
        "apiKey": world.env["OPENAI_API_KEY"],
        "api": "openai-completions",
        "models": [model],
    }
    config = {
        "models": {"providers": {"fake": provider}},
        "agents": {"defaults": {"model": {"primary": "fake/fake-model"}, "workspace": str(world.project)}},
        "tools": {"exec": {"mode": "ask"}},
    }
    folder = world.home / ".openclaw"
    folder.mkdir()
    (folder / "openclaw.json").write_text(json.dumps(config), encoding="utf-8")


def states(peer: Any, session: str) -> list[str]:
    return [e["data"]["state"] for e in peer.events(session, "state.changed")]


@pytest.fixture
def openclaw_cli() -> Path:
    """The installed openclaw (looked up before the harness points HOME at tmp_path), or skip saying why."""
    command = Path(_ACP.installed_cli("openclaw")[0])
    if shutil.which("node", path=str(command.parent)) is None:
        pytest.skip(f"no node beside {command} to run openclaw")
    return command


@pytest.fixture
def openclaw_world(openclaw_cli: Path, acp_world: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """acp_world with OpenClaw's config, and the driver's settings pointing at the CLI and a free Gateway port."""
    acp_world.endpoint.behaviour = replace(acp_world.endpoint.behaviour, tool_command=TOOL_COMMAND)
    write_openclaw_config(acp_world)
    monkeypatch.setenv("IMCODES_OPENCLAW_BINARY", str(openclaw_cli))
    monkeypatch.setenv("IMCODES_OPENCLAW_GATEWAY_PORT", str(free_port()))
    return acp_world


@pytest.fixture
def running_gateway(openclaw_world: Any, openclaw_cli: Path) -> Iterator[int]:
    """An OpenClaw Gateway already running on the session's port, as a user's Gateway service would be."""
    port = int(os.environ["IMCODES_OPENCLAW_GATEWAY_PORT"])
    env = {**openclaw_world.env, **bridge.EMBEDDED_GATEWAY_ENV}
    log = (openclaw_world.home / "gateway.log").open("wb")
    gateway = subprocess.Popen(
        bridge.gateway_argv(str(openclaw_cli), port), stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env
    )
    try:
        deadline = time.monotonic() + GATEWAY_SECONDS
        while not gateway_answers(port, "/startupz"):
            assert gateway.poll() is None, (openclaw_world.home / "gateway.log").read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, f"the Gateway was not ready within {GATEWAY_SECONDS} s"
            time.sleep(0.2)
        yield port
    finally:
        gateway.terminate()
        try:
            gateway.wait(15)
        except subprocess.TimeoutExpired:
            gateway.kill()
            gateway.wait()
        log.close()


async def test_openclaw_acp_through_the_daemon_asks_the_phone_and_finishes(
    openclaw_world: Any, running_gateway: int, harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in openclaw_world.env.items():
        monkeypatch.setenv(key, value)  # the daemon's environment is the agent's: HOME, XDG_*, the fake's key
    host = make_plugin_host()
    assert str(host.agent_driver("openclaw-acp").kind) == "transport"
    daemon = Daemon(DaemonConfig.create(harness.home), host)
    harness.daemon = daemon
    harness.task = asyncio.create_task(daemon.serve(install_signals=False))
    await asyncio.wait_for(daemon.started.wait(), 10)
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    peer = harness.peer
    await peer.wait_for(lambda: peer.find("sessions.sync"), what="sessions.sync")

    ack = await peer.command("session.start", driver="openclaw-acp", cwd=str(openclaw_world.project), within=50)
    assert ack["ok"], ack
    name = ack["result"]["session"]["name"]
    assert states(peer, name)[:2] == ["starting", "idle"]

    assert (await peer.command("session.prompt", session=name, text="Please RUNTOOL now"))["ok"]
    asked = await peer.wait_for(lambda: peer.events(name, "permission.requested"), TURN_SECONDS, "permission")
    question = asked[0]["data"]
    assert question["tool_kind"] == "execute" and TOOL_COMMAND in question["title"]
    assert {o["kind"] for o in question["options"]} >= {"allow_once", "reject_once"}
    assert "waiting_permission" in states(peer, name)
    assert not openclaw_world.tool_output.exists(), "the tool ran before it was approved"
    allow = next(o for o in question["options"] if o["kind"] == "allow_once")
    answered = await peer.command("permission.answer", session=name, choice=allow["id"])
    assert answered["ok"], answered

    final = await peer.wait_for(lambda: peer.events(name, "assistant.final"), TURN_SECONDS, "assistant.final")
    assert final[-1]["data"]["text"].endswith("The command ran. FAKE_TOOL_DONE")
    assert final[-1]["data"]["stop_reason"] == "end_turn"
    assert openclaw_world.tool_output.exists(), "the approved tool did not run"
    assert peer.events(name, "permission.answered")[0]["data"]["option_kind"] == "allow_once"
    assert [e["data"]["ok"] for e in peer.events(name, "tool.result")] == [True]
    await peer.wait_for(lambda: states(peer, name)[-1] == "idle", 10, "idle after the turn")
    after = states(peer, name)
    assert (
        after.index("waiting_permission") < len(after) - 1 and "working" in after[after.index("waiting_permission") :]
    )
    replies = [r.reply_kind for r in openclaw_world.endpoint.requests if r.api == "openai-chat"]
    assert replies == ["tool", "after_tool"], replies

    assert (await peer.command("session.stop", session=name, within=30))["ok"]
    assert states(peer, name)[-1] == "exited"
    assert gateway_answers(running_gateway), "the session stopped a Gateway it did not start"


@pytest.mark.timeout(2 * GATEWAY_SECONDS)  # a cold Gateway on a loaded machine, then a turn
async def test_the_launcher_starts_a_gateway_for_the_session_and_stops_it_with_the_session(
    openclaw_world: Any,
) -> None:
    port = int(os.environ["IMCODES_OPENCLAW_GATEWAY_PORT"])
    plan = openclaw_plugin.make_acp_driver().launch_plan(
        LaunchRequest("oc-test", openclaw_world.project, env=openclaw_world.env)
    )
    session = AcpSession.spawn(
        plan.argv, cwd=openclaw_world.project, env=plan.env, request_timeout=GATEWAY_SECONDS, name="openclaw-acp"
    )
    try:
        await session.start()
        await session.initialize(GATEWAY_SECONDS)
        assert session.agent_info.get("name") == "openclaw-acp"
        assert gateway_answers(port), "no Gateway on the session's port"
        await session.new_session(openclaw_world.project)
        assert await session.prompt("Say hello", TURN_SECONDS) == "end_turn"
        finals = [e.data["text"] for e in session.history if e.kind == "assistant.final"]
        assert finals == ["Hello from the fake model. FAKE_OK"], session.connection.stderr_tail()[-1500:]
        assert "starting one for this session" in session.connection.stderr_tail()
    finally:
        status = await session.close(grace=15)
    assert status == 0, session.connection.stderr_tail()[-1500:]
    assert not gateway_answers(port), "the session's Gateway outlived the session"


WORD = "ZEBRAQUUX"  # in the first turn only: a later model request that carries it has the earlier turn in context


def launcher_session(world: Any) -> AcpSession:
    """The driver's launch plan (the bridge launcher) as an ACP session, as the daemon would spawn it."""
    plan = openclaw_plugin.make_acp_driver().launch_plan(LaunchRequest("oc-test", world.project, env=world.env))
    return AcpSession.spawn(
        plan.argv, cwd=world.project, env=plan.env, request_timeout=GATEWAY_SECONDS, name="openclaw-acp"
    )


def asked_with_the_word(world: Any, after: int, also: str = "") -> bool:
    bodies = [json.dumps(r.body) for r in world.endpoint.requests[after:] if r.api == "openai-chat"]
    return any(WORD in body and also in body for body in bodies)


@pytest.mark.timeout(4 * GATEWAY_SECONDS)  # two cold Gateways, two turns
async def test_session_load_reopens_a_conversation_after_its_gateway_restarted(openclaw_world: Any) -> None:
    """Each launcher starts its own Gateway and stops it: the second Gateway still has the first's session (kept
    in OpenClaw's state directory), and the bridge replays it and sends it to the model with the next prompt."""
    port = int(os.environ["IMCODES_OPENCLAW_GATEWAY_PORT"])
    first = launcher_session(openclaw_world)
    try:
        await first.start()
        await first.initialize(GATEWAY_SECONDS)
        assert first.can_load  # 2026.9.6: agentCapabilities.loadSession true
        session_id = str(await first.new_session(openclaw_world.project))
        assert await first.prompt(f"Remember the word {WORD}.", TURN_SECONDS) == "end_turn"
    finally:
        assert await first.close(grace=15) == 0, first.connection.stderr_tail()[-1500:]
    assert not gateway_answers(port), "the first session's Gateway outlived it"

    second = launcher_session(openclaw_world)
    try:
        await second.start()
        await second.initialize(GATEWAY_SECONDS)
        assert "starting one for this session" in second.connection.stderr_tail()  # a new Gateway
        replayed = await second.load_session(session_id, openclaw_world.project, time_limit=GATEWAY_SECONDS)
        assert [e.data["text"] for e in replayed if e.kind == "user.prompt"] == [f"Remember the word {WORD}."]
        assert [e.data["text"] for e in replayed if e.kind == "assistant.final"] == [
            "Hello from the fake model. FAKE_OK"
        ]
        assert all(e.data["replayed"] is True for e in replayed)
        assert str(second.state) == "idle" and second.session_id == session_id
        seen = len(openclaw_world.endpoint.requests)
        assert await second.prompt("Which word was it?", TURN_SECONDS) == "end_turn"
        assert asked_with_the_word(openclaw_world, seen, "Which word was it?"), "the model never saw the first turn"
    finally:
        assert await second.close(grace=15) == 0, second.connection.stderr_tail()[-1500:]
    assert not gateway_answers(port), "the second session's Gateway outlived it"


async def turn(peer: Any, name: str, text: str) -> str:
    """Send a prompt and wait for its answer (the newest assistant.final that is not a replay)."""
    before = len(peer.events(name, "assistant.final"))
    assert (await peer.command("session.prompt", session=name, text=text))["ok"]
    finals = await peer.wait_for(lambda: peer.events(name, "assistant.final")[before:], TURN_SECONDS, text)
    return str(finals[-1]["data"]["text"])


async def linked(harness: Any) -> Daemon:
    """A daemon on the harness' home with the installed plugins, linked to its peer (which keeps earlier frames)."""
    seen = len(harness.peer.frames)
    daemon = Daemon(DaemonConfig.create(harness.home), make_plugin_host())
    harness.daemon = daemon
    harness.task = asyncio.create_task(daemon.serve(install_signals=False))
    await asyncio.wait_for(daemon.started.wait(), 10)
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    await harness.peer.wait_for(
        lambda: any(f["type"] == "sessions.sync" for f in harness.peer.frames[seen:]), what="sessions.sync"
    )
    return daemon


@pytest.mark.timeout(2 * GATEWAY_SECONDS + 4 * TURN_SECONDS)  # the Gateway, then three bridge starts and turns
async def test_openclaw_acp_is_adopted_after_a_daemon_restart_and_resumed_after_a_stop(
    openclaw_world: Any, running_gateway: int, harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in openclaw_world.env.items():
        monkeypatch.setenv(key, value)  # the daemon's environment is the agent's
    await linked(harness)
    peer = harness.peer
    ack = await peer.command("session.start", driver="openclaw-acp", cwd=str(openclaw_world.project), within=50)
    assert ack["ok"], ack
    name, conversation = ack["result"]["session"]["name"], ack["result"]["session"]["conversation"]
    assert conversation  # the bridge offers loadSession: its ACP sessionId is the conversation
    assert "FAKE_OK" in await turn(peer, name, f"Remember the word {WORD}.")
    await harness.stop_daemon()
    assert [s["name"] for s in json.loads((harness.home / "transports.json").read_text())["sessions"]] == [name]

    daemon = await linked(harness)
    adopted = await peer.wait_for(lambda: peer.events(name, "session.adopted"), 50, "session.adopted")
    assert adopted[0]["data"]["conversation"] == conversation and adopted[0]["data"]["replayed"] >= 2
    info = next(i for i in daemon.registry.infos() if i.name == name)
    assert info.conversation == conversation and info.state == "idle"
    seen = len(openclaw_world.endpoint.requests)
    assert "FAKE_OK" in await turn(peer, name, "Which word did I ask you to remember?")
    assert asked_with_the_word(openclaw_world, seen), "the adopted session sent the model no earlier turn"

    assert (await peer.command("session.stop", session=name, within=30))["ok"]
    assert peer.events(name, "session.exited")[-1]["data"]["conversation"] == conversation
    ack = await peer.command(
        "session.start", driver="openclaw-acp", cwd=str(openclaw_world.project), resume=conversation, within=50
    )
    assert ack["ok"], ack
    resumed = ack["result"]["session"]["name"]
    replay = [e["data"]["text"] for e in peer.events(resumed, "user.prompt") if e["data"].get("replayed")]
    assert replay == [f"Remember the word {WORD}.", "Which word did I ask you to remember?"]
    assert peer.events(resumed, "session.resumed")[0]["data"]["conversation"] == conversation
    seen = len(openclaw_world.endpoint.requests)
    assert "FAKE_OK" in await turn(peer, resumed, "And once more?")
    assert asked_with_the_word(openclaw_world, seen, "And once more?")
    assert (await peer.command("session.stop", session=resumed, within=30))["ok"]
    assert gateway_answers(running_gateway), "a session stopped a Gateway it did not start"
