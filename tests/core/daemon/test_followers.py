"""Session channels through the real daemon: a driver names a channel, the daemon follows it from start, after a
restart of the daemon (adoption, with the launch's stored channel values) and stops following at the end.

The driver's agent is ``cat >> FILE`` in the pane: what the test types into the pane becomes a line of the JSON-lines
file the channel tails (imcodes_core.channels.JsonLinesTail), so every report really travels agent -> file ->
channel -> daemon -> timeline and state.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.channels import ChannelRequest, ChannelSink, JsonLinesTail, SessionChannel
from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.drivers import LaunchPlan, LaunchRequest, ProcessDriver
from imcodes_core.hookspecs import hookimpl
from imcodes_core.host import make_plugin_host
from imcodes_core.specs import AgentDriverSpec, StateDetectorSpec
from imcodes_core.states import AgentEvent, Observation, SessionState, SignalSource, StateDetector, StateReading

pytestmark = pytest.mark.tmux

SECRET = "sk-ant-" + "x" * 24


class FileChannel:
    name = "file-events"

    def __init__(self, path: Path, launches: list[ChannelRequest]) -> None:
        self.path = path
        self.launches = launches

    async def follow(self, sink: ChannelSink) -> None:
        tail = JsonLinesTail(self.path, fast=0.02, slow=0.1)
        while True:
            for line in await tail.lines():
                try:
                    message = json.loads(line)
                except ValueError:
                    continue  # the agent's own garbage: not ours to report
                if "state" in message:
                    sink.event(AgentEvent(str(message["state"]), 0.0, message))
                if "answer" in message:
                    sink.chat("assistant.final", {"text": message["answer"], "extra": {"nested": [1, 2]}})
                if "conversation" in message:
                    sink.conversation(str(message["conversation"]))
                if "bogus" in message:
                    sink.chat("not.a.kind", {"text": "dropped"})


class BrokenChannel:
    name = "broken"

    async def follow(self, sink: ChannelSink) -> None:
        raise RuntimeError("this channel is broken")


class TailDriver(ProcessDriver):
    name = "tailer"

    def __init__(self) -> None:
        self.requests: list[ChannelRequest] = []

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        assert request.state_dir is not None and request.state_dir.is_dir()
        events = request.state_dir / "events.jsonl"
        return LaunchPlan(["sh", "-c", f"exec cat >> '{events}'"], channel={"events": str(events)})

    def session_channels(self, request: ChannelRequest) -> Sequence[SessionChannel]:
        self.requests.append(request)
        return [FileChannel(Path(request.launch["events"]), self.requests), BrokenChannel()]


class EventDetector(StateDetector):
    name = "tail-events"
    drivers = frozenset({"tailer"})

    def read(self, observation: Observation) -> StateReading | None:
        for event in reversed(observation.events):
            state = {"busy": SessionState.WORKING, "done": SessionState.IDLE}.get(event.kind)
            if state is not None:
                return StateReading(state, 0.95, f"file event {event.kind}", self.name, SignalSource.STRUCTURED)
        return None


class TailPlugin:
    def __init__(self) -> None:
        self.driver = TailDriver()

    @hookimpl
    def imcodes_agent_drivers(self) -> Iterable[AgentDriverSpec]:
        yield AgentDriverSpec(name="tailer", driver=self.driver)

    @hookimpl
    def imcodes_state_detectors(self) -> Iterable[StateDetectorSpec]:
        yield StateDetectorSpec(name="tail-events", detector=EventDetector())


async def start(harness: Any, plugin: TailPlugin) -> Daemon:
    host = make_plugin_host(load_entry_points=False)
    host.register(plugin, "tailer")
    daemon = Daemon(DaemonConfig.create(harness.home), host)
    harness.daemon, harness.task = daemon, asyncio.create_task(daemon.serve(install_signals=False))
    await asyncio.wait_for(daemon.started.wait(), 10)
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    return daemon


def type_line(harness: Any, session: str, message: dict[str, Any]) -> None:
    harness.tmux("send-keys", "-t", f"={session}:", "-l", json.dumps(message))
    harness.tmux("send-keys", "-t", f"={session}:", "Enter")


async def test_a_driver_channel_is_followed_from_start_through_adoption_to_stop(
    harness: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plugin = TailPlugin()
    daemon = await start(harness, plugin)
    peer, work = harness.peer, tmp_path / "work"
    work.mkdir()
    ack = await peer.command("session.start", driver="tailer", cwd=str(work), name="t1")
    assert ack["ok"], ack
    (request,) = plugin.driver.requests
    assert request.session == "t1" and request.cwd == work.resolve() and request.pane_pid
    assert request.state_dir == harness.home.resolve() / "daemon" / "sessions" / "t1"
    assert request.state_dir.stat().st_mode & 0o777 == 0o700
    assert "channel broken of session t1 failed" in caplog.text  # reported; the session and its other channel go on

    type_line(harness, "t1", {"state": "busy"})
    live = daemon.registry.get("t1")
    # the echo of the typed line may make the generic screen detector say working first: the evidence tells
    await peer.wait_for(lambda: "file event busy" in live.verdict.reason, what="working from the channel")
    assert live.verdict.state is SessionState.WORKING
    assert live.verdict.readings[0].source is SignalSource.STRUCTURED

    type_line(harness, "t1", {"answer": f"done, key {SECRET}", "conversation": "conv-0001", "bogus": 1})
    final = await peer.wait_for(lambda: peer.events("t1", "assistant.final"), what="assistant.final")
    assert final[-1]["data"]["via"] == "file-events"
    assert SECRET not in json.dumps(final) and "done, key sk-ant-" in final[-1]["data"]["text"]
    assert final[-1]["data"]["extra"] == '{"nested": [1, 2]}'  # bounded to a string, never a deep structure
    assert not peer.events("t1", "not.a.kind")
    assert (await peer.wait_for(lambda: daemon.registry.get("t1").record.conversation, what="conv")) == "conv-0001"

    # a restarted daemon adopts the session and follows the same file again, from the launch's stored values
    await harness.stop_daemon()
    plugin.driver.requests.clear()
    daemon = await start(harness, plugin)
    await peer.wait_for(lambda: plugin.driver.requests, what="the channel requested again on adoption")
    assert plugin.driver.requests[0].launch == request.launch
    type_line(harness, "t1", {"state": "done"})
    await peer.wait_for(lambda: states(peer, "t1")[-1:] == ["idle"], what="idle from the channel after adoption")

    outside = tmp_path / "users-own"  # e.g. Gemini's session home links to the user's ~/.gemini entries
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    (request.state_dir / "link").symlink_to(outside)
    assert (await peer.command("session.stop", session="t1"))["ok"]
    assert "t1" not in daemon.registry.followers.tasks  # nothing follows a stopped session
    assert not request.state_dir.exists()  # its private folder went with it
    assert (outside / "keep.txt").read_text() == "mine"  # links in it were removed, never followed


async def test_folders_of_sessions_that_ended_while_no_daemon_ran_are_swept(harness: Any, tmp_path: Path) -> None:
    plugin = TailPlugin()
    await start(harness, plugin)
    work = tmp_path / "work"
    work.mkdir()
    assert (await harness.peer.command("session.start", driver="tailer", cwd=str(work), name="kept"))["ok"]
    await harness.stop_daemon()
    stale = harness.home.resolve() / "daemon" / "sessions" / "gone"
    stale.mkdir()
    (stale / "events.jsonl").write_text("{}\n")
    daemon = await start(harness, plugin)
    assert not stale.exists()
    assert (harness.home.resolve() / "daemon" / "sessions" / "kept").is_dir()  # an adopted session keeps its own
    assert daemon.registry.get("kept")
    assert (await harness.peer.command("session.stop", session="kept"))["ok"]


def states(peer: Any, session: str) -> list[str]:
    return [e["data"]["state"] for e in peer.events(session, "state.changed")]


def test_json_lines_tail_reads_complete_lines_and_starts_over_on_truncation(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tail = JsonLinesTail(path, max_line=32)
    assert tail.read_available() == []  # no file yet
    path.write_bytes(b'{"a": 1}\n{"b"')
    assert tail.read_available() == [b'{"a": 1}']
    with path.open("ab") as file:
        file.write(b": 2}\n\n" + b"y" * 40)
    assert tail.read_available() == [b'{"b": 2}']
    with path.open("ab") as file:
        file.write(b"z" * 10 + b'\n{"c": 3}\n')
    assert tail.read_available() == [b'{"c": 3}']  # the over-long line was skipped whole
    path.write_bytes(b'{"d": 4}\n')  # rewritten shorter: read again from the start
    assert tail.read_available() == [b'{"d": 4}']


def test_json_lines_tail_stays_fast_for_a_moment_after_a_line_then_slows_down(tmp_path: Path) -> None:
    tail = JsonLinesTail(tmp_path / "events.jsonl", fast=0.05, slow=0.5, linger=1.0)
    tail.last_found = 100.0  # a line arrived at t=100 (the loop's clock)
    assert [tail.next_delay(now) for now in (100.1, 100.5, 100.99)] == [0.05, 0.05, 0.05]
    slowing = [tail.next_delay(101.0 + step) for step in range(8)]
    assert slowing[0] == 0.05 and slowing == sorted(slowing) and slowing[-1] == 0.5
