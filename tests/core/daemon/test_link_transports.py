"""The link and transport (ACP) sessions.

Slow commands do not hold up the link: an ACP agent's start (seconds, up to a minute for a cold OpenClaw Gateway)
is acked when it finishes, while the frames after it are read and answered meanwhile (a link that read nothing for
two ping intervals would be declared stale and the start's ack lost). A live transport session's journal is kept
when the link goes live again."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.drivers import DriverKind, LaunchPlan, LaunchRequest
from imcodes_core.hookspecs import hookimpl
from imcodes_core.host import make_plugin_host
from imcodes_core.specs import AgentDriverSpec

from .test_transport import TINY_AGENT, TinyAcpDriver, linked
from .test_transport import TinyAcpPlugin as TinyPlugin

pytestmark = pytest.mark.tmux

START_DELAY = 2.0


class SlowTinyAcpDriver(TinyAcpDriver):
    name = "slow-acp"

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, "IMCODES_SESSION": request.session}
        script = f"sleep {START_DELAY}; exec {sys.executable} {TINY_AGENT}"  # an agent that is slow to answer
        return LaunchPlan(["sh", "-c", script], env, request.cwd)


class SlowPlugin:
    @hookimpl
    def imcodes_agent_drivers(self) -> list[AgentDriverSpec]:
        return [AgentDriverSpec(name="slow-acp", driver=SlowTinyAcpDriver(), kind=DriverKind.TRANSPORT)]


async def test_a_slow_agent_start_is_acked_late_and_other_commands_are_answered_meanwhile(
    harness: Any, tmp_path: Path
) -> None:
    host = make_plugin_host(load_entry_points=False)
    host.register(SlowPlugin(), "slow-acp-test")
    await linked(harness, host)
    peer = harness.peer
    await peer.send_raw(json.dumps({"v": 1, "type": "session.start", "id": "slow-1", "driver": "slow-acp",
                                    "cwd": str(tmp_path), "name": "slow"}))  # fmt: skip
    quick = await peer.command("session.start", driver="shell", cwd=str(tmp_path), name="quick", within=5)
    assert quick["ok"], quick
    assert peer.find("ack", ref="slow-1") is None  # the agent is still starting
    slow = await peer.ack("slow-1", within=30)
    assert slow["ok"] and slow["result"]["session"]["name"] == "slow", slow
    acks = [f["ref"] for f in peer.frames if f["type"] == "ack"]
    assert acks.index(quick["ref"]) < acks.index("slow-1")
    for name in ("quick", "slow"):
        assert (await peer.command("session.stop", session=name))["ok"]


async def test_a_live_transport_sessions_journal_survives_a_reconnect_when_the_server_holds_it_all(
    harness: Any, tmp_path: Path
) -> None:
    host = make_plugin_host(load_entry_points=False)
    host.register(TinyPlugin(), "tiny-acp-test")
    daemon = await linked(harness, host)
    peer = harness.peer
    ack = await peer.command("session.start", driver="tiny-acp", cwd=str(tmp_path), name="acp1")
    assert ack["ok"], ack
    journal = daemon.config.timeline_dir / "acp1.jsonl"
    last = await peer.wait_for(lambda: peer.events("acp1"), what="events of acp1")
    peer.persisted = {"acp1": [last[-1]["epoch"], last[-1]["seq"]]}  # the server stored every event
    connections = peer.connections
    assert peer.ws is not None
    await peer.ws.close()  # the link drops; the daemon comes back and goes live against those positions
    await peer.wait_for(lambda: peer.connections > connections and peer.ws is not None, 15, "a new link")
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    assert journal.is_file(), "the live transport session's journal was deleted"
    assert (await peer.command("session.stop", session="acp1"))["ok"]


class ImpatientDriver(SlowTinyAcpDriver):
    name = "impatient-acp"
    start_seconds = 0.5  # shorter than the agent's START_DELAY


class ImpatientPlugin:
    @hookimpl
    def imcodes_agent_drivers(self) -> list[AgentDriverSpec]:
        return [AgentDriverSpec(name="impatient-acp", driver=ImpatientDriver(), kind=DriverKind.TRANSPORT)]


async def test_a_transport_driver_sets_how_long_its_agent_may_take_to_start(harness: Any, tmp_path: Path) -> None:
    host = make_plugin_host(load_entry_points=False)
    host.register(ImpatientPlugin(), "impatient-acp-test")
    await linked(harness, host)
    ack = await harness.peer.command("session.start", driver="impatient-acp", cwd=str(tmp_path), within=10)
    assert not ack["ok"] and ack["error"].startswith("the agent did not start"), ack
