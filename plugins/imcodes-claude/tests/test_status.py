"""Claude's session status file as a channel: the recorded snapshots replayed into a real file, followed by the
real channel; finding the file by the pane's process (direct, behind a wrapper, by tmux session and cwd); a file
whose ``procStart`` is not the live process's start time (left by a killed Claude, pid reused) ignored; what an
idle session costs; and the event detector reading the file's events together with the hooks (newest wins)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from imcodes_claude.driver import ClaudeDriver
from imcodes_claude.events import ClaudeEventDetector, hook_event
from imcodes_claude.status import ClaudeStatusChannel, config_dir, process_start, status_event

from imcodes_core.channels import ChannelRequest
from imcodes_core.states import AgentEvent, Observation, SessionState, SignalSource

S = SessionState
RECORDED_PID = 29158  # the session e2d26fa1 of the recording: the one with a permission prompt


class RecordingSink:
    """A ChannelSink that keeps what it is told."""

    def __init__(self) -> None:
        self.events: list[AgentEvent] = []
        self.conversations: list[str] = []

    def event(self, event: AgentEvent) -> None:
        self.events.append(event)

    def chat(self, kind: str, data: Mapping[str, Any]) -> None:
        raise AssertionError(f"the status channel reports no chat events ({kind})")

    def conversation(self, conversation: str) -> None:
        self.conversations.append(conversation)


@pytest.fixture
def sleeper() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Starts real processes to stand in for a pane's process; every one is stopped at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*argv: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        argv = argv or ("sleep", "30")
        process = subprocess.Popen(argv, env=dict(env) if env else None, stdout=subprocess.PIPE)
        started.append(process)
        deadline = time.monotonic() + 5
        while process.poll() is None and time.monotonic() < deadline:  # until it runs argv (exec'd, own environ)
            with contextlib.suppress(OSError):
                if Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")[0] == argv[0].encode():
                    break
            time.sleep(0.005)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


async def until(condition: Callable[[], bool], within: float = 2.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the channel reports through a plain callback
            await asyncio.sleep(0.005)


def recorded(jsonl: Callable[[str], list[dict[str, Any]]], pid: int) -> list[dict[str, Any]]:
    return [r["content"] for r in jsonl("claude-session-status.jsonl") if r["content"]["pid"] == pid]


def write(path: Path, content: Mapping[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content), encoding="utf-8")
    temporary.replace(path)


async def test_the_recorded_snapshots_become_status_events_dated_by_claude(
    jsonl: Callable[[str], list[dict[str, Any]]], tmp_path: Path
) -> None:
    snapshots = recorded(jsonl, RECORDED_PID)
    pid = os.getpid()  # a live process stands in for the recorded one (a dead one's file is left alone)
    started = str(process_start(pid))  # ... with its own start time (the recorded one is another process's)
    path = tmp_path / f"{pid}.json"
    channel = ClaudeStatusChannel("s1", tmp_path, pid, sessions_dir=tmp_path, fast=0.01, slow=0.03, search=0.01)
    sink = RecordingSink()
    task = asyncio.create_task(channel.follow(sink))
    try:
        for snapshot in snapshots:
            write(path, {**snapshot, "pid": pid, "procStart": started})
            await asyncio.sleep(0.12)
        path.write_text('{"pid": 1, "status": "bu', encoding="utf-8")  # caught mid-write: nothing reported
        await asyncio.sleep(0.12)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    kinds = [e.kind for e in sink.events]
    assert kinds == [f"status.{s.get('status', 'starting')}" for s in snapshots]
    assert kinds == ["status.starting", "status.idle", "status.busy", "status.idle", "status.busy", "status.waiting",
                     "status.busy", "status.idle", "status.busy", "status.idle"]  # fmt: skip
    assert [e.at for e in sink.events[1:]] == [s["statusUpdatedAt"] / 1000 for s in snapshots[1:]]
    assert sink.events[0].at == snapshots[0]["startedAt"] / 1000
    waiting = sink.events[5]
    assert waiting.data["waitingFor"] == "permission prompt" and waiting.data["file"] == str(path)
    assert [e.data["turns"] for e in sink.events[:3]] == [0, 0, 1]  # the first idle is before any turn
    assert sink.conversations == ["e2d26fa1-6d70-4832-ae3b-de93bf04cf44"]


async def test_the_channel_ends_when_the_file_and_the_pane_process_are_gone(
    tmp_path: Path, sleeper: Callable[..., subprocess.Popen[bytes]]
) -> None:
    process = sleeper()
    path = tmp_path / f"{process.pid}.json"
    write(path, {"pid": process.pid, "sessionId": "abc", "status": "busy", "statusUpdatedAt": 1000})
    channel = ClaudeStatusChannel("s1", tmp_path, process.pid, sessions_dir=tmp_path, search=0.02)
    sink = RecordingSink()
    task = asyncio.create_task(channel.follow(sink))
    await asyncio.sleep(0.2)
    assert [e.kind for e in sink.events] == ["status.busy"]
    path.unlink()  # Claude deletes it when it exits
    process.kill()
    process.wait(5)
    await asyncio.wait_for(task, 2)  # returns: nothing left to follow


async def test_an_idle_session_costs_about_one_check_a_second_and_a_busy_one_reacts_within_a_poll(
    tmp_path: Path,
) -> None:
    pid = os.getpid()
    path = tmp_path / f"{pid}.json"
    write(path, {"pid": pid, "status": "idle", "statusUpdatedAt": 1000})
    channel = ClaudeStatusChannel("s1", tmp_path, pid, sessions_dir=tmp_path)  # the daemon's defaults
    sink = RecordingSink()
    task = asyncio.create_task(channel.follow(sink))
    try:
        await asyncio.sleep(3.0)
        idle_polls = channel.polls
        write(path, {"pid": pid, "status": "busy", "statusUpdatedAt": 2000})
        await asyncio.sleep(1.1)  # noticed within the idle interval, then polled fast
        busy_polls = channel.polls - idle_polls
        write(path, {"pid": pid, "status": "waiting", "statusUpdatedAt": 3000})
        loop = asyncio.get_running_loop()
        written = loop.time()
        await until(lambda: len(sink.events) >= 3)
        noticed = loop.time() - written
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    print(
        f"idle: {idle_polls} checks in 3 s; busy: {busy_polls} in 1.1 s; "
        f"waiting noticed after {noticed * 1000:.0f} ms"
    )
    assert idle_polls <= 4
    assert busy_polls >= 10
    assert noticed < 0.2
    assert [e.kind for e in sink.events] == ["status.idle", "status.busy", "status.waiting"]


def test_the_file_is_found_behind_a_wrapper_or_by_tmux_session_and_cwd(
    tmp_path: Path, sleeper: Callable[..., subprocess.Popen[bytes]]
) -> None:
    wrapper = sleeper("sh", "-c", "sleep 30 & echo $!; wait")
    assert wrapper.stdout is not None
    child = int(wrapper.stdout.readline())
    stranger = os.getpid()  # a live Claude of someone else, same folder
    write(tmp_path / f"{stranger}.json", {"pid": stranger, "cwd": str(tmp_path), "tmux": "other:@1.%1"})
    write(tmp_path / f"{child}.json", {"pid": child, "cwd": str(tmp_path), "tmux": "s1:@3.%4"})
    assert (
        ClaudeStatusChannel("s1", tmp_path, wrapper.pid, sessions_dir=tmp_path).find() == tmp_path / f"{child}.json"
    )
    assert ClaudeStatusChannel("s1", tmp_path, None, sessions_dir=tmp_path).find() == tmp_path / f"{child}.json"
    assert ClaudeStatusChannel("s1", tmp_path / "elsewhere", None, sessions_dir=tmp_path).find() is None
    gone = sleeper("true")
    gone.wait(5)  # a file whose process is dead (left by a killed Claude) is never ours
    write(tmp_path / "99.json", {"pid": gone.pid, "cwd": str(tmp_path), "tmux": "s2:@1.%1"})
    assert ClaudeStatusChannel("s2", tmp_path, None, sessions_dir=tmp_path).find() is None


def starttime(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat, read here independently of the module: the comm (field 2) may hold spaces."""
    after_comm = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(after_comm[22 - 3])


def test_process_start_is_the_start_time_in_clock_ticks_since_boot(
    sleeper: Callable[..., subprocess.Popen[bytes]],
) -> None:
    before = time.time()
    process = sleeper()
    ticks = process_start(process.pid)
    assert ticks is not None and ticks == starttime(process.pid)
    stat = Path("/proc/stat").read_text().splitlines()
    boot = next(float(line.split()[1]) for line in stat if line.startswith("btime "))
    started = boot + ticks / os.sysconf("SC_CLK_TCK")
    assert before - 1.5 < started < time.time() + 1.5  # btime is whole seconds
    assert process_start(os.getpid()) != ticks  # another process, another start
    process.kill()
    process.wait(5)
    assert process_start(process.pid) is None


async def test_a_file_whose_proc_start_is_not_the_live_process_is_ignored_and_a_matching_one_followed(
    tmp_path: Path, sleeper: Callable[..., subprocess.Popen[bytes]]
) -> None:
    process = sleeper()  # the pane's process: its pid is the one a killed Claude left a file under
    started = starttime(process.pid)
    path = tmp_path / f"{process.pid}.json"
    stale = {"pid": process.pid, "sessionId": "old", "status": "busy", "statusUpdatedAt": 1000}
    write(path, {**stale, "procStart": str(started - 1)})  # Claude writes it as a decimal string
    channel = ClaudeStatusChannel("s1", tmp_path, process.pid, sessions_dir=tmp_path, fast=0.01, search=0.02)
    assert channel.find() is None
    sink = RecordingSink()
    task = asyncio.create_task(channel.follow(sink))
    try:
        await asyncio.sleep(0.3)
        assert sink.events == [] and sink.conversations == []
        write(path, {**stale, "sessionId": "new", "statusUpdatedAt": 2000, "procStart": str(started)})
        await until(lambda: len(sink.events) >= 1)
        assert [e.kind for e in sink.events] == ["status.busy"] and sink.conversations == ["new"]
        # the file now says another process wrote it: what it says next is not followed
        write(path, {**stale, "status": "idle", "statusUpdatedAt": 3000, "procStart": str(started + 100)})
        await asyncio.sleep(0.3)
        write(path, {**stale, "status": "waiting", "statusUpdatedAt": 4000, "procStart": "not a number"})
        await asyncio.sleep(0.3)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert [e.kind for e in sink.events] == ["status.busy"]
    assert channel.find() is None


def test_a_stale_file_is_not_found_behind_a_wrapper_nor_by_tmux_session_and_cwd(
    tmp_path: Path, sleeper: Callable[..., subprocess.Popen[bytes]]
) -> None:
    wrapper = sleeper("sh", "-c", "sleep 30 & echo $!; wait")
    assert wrapper.stdout is not None
    child = int(wrapper.stdout.readline())
    path = tmp_path / f"{child}.json"
    by_pane = ClaudeStatusChannel("s1", tmp_path, wrapper.pid, sessions_dir=tmp_path)
    by_tmux = ClaudeStatusChannel("s1", tmp_path, None, sessions_dir=tmp_path)
    content = {"pid": child, "cwd": str(tmp_path), "tmux": "s1:@3.%4"}
    write(path, {**content, "procStart": str(starttime(child) + 7)})
    assert by_pane.find() is None and by_tmux.find() is None
    write(path, {**content, "procStart": str(starttime(child))})
    assert by_pane.find() == path and by_tmux.find() == path
    write(path, content)  # no procStart (an older Claude): trusted while the pid is alive, as before
    assert by_pane.find() == path and by_tmux.find() == path


def test_the_config_dir_is_the_one_the_pane_process_sees(
    tmp_path: Path, sleeper: Callable[..., subprocess.Popen[bytes]]
) -> None:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    configured = sleeper(env={**base, "HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": str(tmp_path / "conf")})
    assert config_dir(configured.pid, {}) == tmp_path / "conf"
    plain = sleeper(env={**base, "HOME": str(tmp_path / "home")})
    assert config_dir(plain.pid, {}) == tmp_path / "home" / ".claude"
    assert config_dir(None, {"HOME": "/nowhere"}) == Path("/nowhere/.claude")


def test_the_driver_names_the_status_channel_of_the_pane_process(tmp_path: Path) -> None:
    request = ChannelRequest(session="s1", cwd=tmp_path, state_dir=tmp_path, pane_pid=4242)
    (channel,) = ClaudeDriver().session_channels(request)
    assert isinstance(channel, ClaudeStatusChannel)
    assert (channel.name, channel.session, channel.cwd, channel.pane_pid) == ("claude-status", "s1", tmp_path, 4242)


def _hooks(jsonl: Callable[[str], list[dict[str, Any]]]) -> dict[str, AgentEvent]:
    return {
        r["event"]: hook_event(r["payload"], r["t"])
        for r in jsonl("claude-hooks.jsonl")
        if r["payload"]["session_id"].startswith("e2d26fa1") and 1795519603 < r["t"] < 1795519620
    }


def _statuses(jsonl: Callable[[str], list[dict[str, Any]]]) -> list[AgentEvent]:
    path = f"/home/dev/.claude/sessions/{RECORDED_PID}.json"
    return [status_event(s, path) for s in recorded(jsonl, RECORDED_PID)]


def test_after_the_approval_the_file_says_working_before_any_hook(
    jsonl: Callable[[str], list[dict[str, Any]]],
) -> None:
    hooks, statuses = _hooks(jsonl), _statuses(jsonl)
    waiting, busy = statuses[5], statuses[6]
    events = (hooks["UserPromptSubmit"], hooks["PreToolUse"], waiting, hooks["PermissionRequest"], busy)
    reading = ClaudeEventDetector().read(Observation("claude", events=events))
    assert reading is not None and reading.state is S.WORKING
    assert reading.source is SignalSource.STRUCTURED and reading.at == busy.at
    assert reading.evidence == f"sessions/{RECORDED_PID}.json: busy"
    before = ClaudeEventDetector().read(Observation("claude", events=events[:-1]))
    assert before is not None and before.state is S.WAITING_PERMISSION
    assert before.evidence.startswith("PermissionRequest hook: Bash")  # the hook came after the file's waiting


def test_the_newest_event_wins_whatever_the_order_of_arrival(jsonl: Callable[[str], list[dict[str, Any]]]) -> None:
    hooks, statuses = _hooks(jsonl), _statuses(jsonl)
    busy_before_prompt = statuses[4]  # the turn's busy, read late (polled after the hook reported)
    events = (hooks["UserPromptSubmit"], hooks["PermissionRequest"], busy_before_prompt)
    reading = ClaudeEventDetector().read(Observation("claude", events=events))
    assert reading is not None and reading.state is S.WAITING_PERMISSION, reading
    undated = AgentEvent("Stop", 0.0, {})  # an event without a time counts as the newest so far
    reading = ClaudeEventDetector().read(Observation("claude", events=(*events, undated)))
    assert reading is not None and reading.state is S.IDLE


def test_the_first_idle_of_a_file_is_weak_and_a_later_one_is_not() -> None:
    first = AgentEvent("status.idle", 1.0, {"status": "idle", "turns": 0})
    later = AgentEvent("status.idle", 2.0, {"status": "idle", "turns": 3})
    weak, sure = (ClaudeEventDetector().read(Observation("claude", events=(e,))) for e in (first, later))
    assert weak is not None and sure is not None and weak.state is sure.state is S.IDLE
    assert weak.confidence < 0.75 <= sure.confidence  # below the arbiter's FRESH_CONFIDENCE: the screen decides


if sys.platform != "linux":  # the pane's process is found through /proc
    pytestmark = pytest.mark.skip(reason="needs /proc")
