"""Resume through the daemon: session.start's resume reaches the driver's launch, a driver that cannot resume is
refused with its own message, and the conversation id the hooks report is kept for SessionInfo and session.exited.

The Claude driver runs a stand-in ``claude`` that records its command line (tests/agents/test_claude_resume.py
resumes the real CLI); the hook events are real ``imcodes hook`` subprocesses writing to the daemon's socket.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import imcodes_claude.plugin as claude_plugin
import imcodes_opencode.plugin as opencode_plugin
import imcodes_qwen.plugin as qwen_plugin
import pytest

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.host import make_plugin_host

from .test_channels import HOOKS, run_hook

pytestmark = pytest.mark.tmux

EARLIER = "e2d26fa1-6d70-4832-ae3b-de93bf04cf44"  # the session_id in the recorded Claude hook events
NEWER = "5b0c63c4-2f0e-4c8e-9a51-0d7c3f3b2a10"


async def resume_daemon(harness: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Daemon, Path]:
    fake = tmp_path / "fake-claude"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$0.argv"\nexec cat > /dev/null\n')
    fake.chmod(0o755)
    monkeypatch.setenv("IMCODES_CLAUDE_BINARY", str(fake))
    host = make_plugin_host(load_entry_points=False)
    host.register(claude_plugin, "claude", distribution="imcodes-claude")
    host.register(qwen_plugin, "qwen", distribution="imcodes-qwen")
    host.register(opencode_plugin, "opencode", distribution="imcodes-opencode")
    daemon = Daemon(DaemonConfig.create(harness.home), host)
    harness.daemon, harness.task = daemon, asyncio.create_task(daemon.serve(install_signals=False))
    await asyncio.wait_for(daemon.started.wait(), 10)
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    return daemon, fake


def tmux_sessions(harness: Any) -> list[str]:
    return [line for line in harness.tmux("list-sessions", "-F", "#{session_name}").stdout.splitlines() if line]


async def test_a_driver_that_cannot_resume_is_refused_with_its_own_message(
    harness, monkeypatch, tmp_path: Path
) -> None:
    await resume_daemon(harness, monkeypatch, tmp_path)
    peer, work = harness.peer, tmp_path / "work"
    work.mkdir()
    # qwen and opencode resume (test_qwen_resume_reaches_its_command_line, test_opencode_resume_...)
    shell = await peer.command("session.start", driver="shell", cwd=str(work), name="r-shell", resume=EARLIER)
    assert not shell["ok"] and shell["error"] == "the shell driver cannot resume a conversation"
    assert tmux_sessions(harness) == []  # nothing was launched, nothing announced
    assert not peer.find("session.updated") and not [f for f in peer.frames if f["type"] == "timeline.event"]
    retried = await peer.command("session.start", driver="shell", cwd=str(work), name="r-shell")
    assert retried["ok"] and retried["result"]["session"]["conversation"] is None  # the name was not taken
    assert (await peer.command("session.stop", session="r-shell"))["ok"]


async def test_resume_reaches_the_cli_and_the_reported_conversation_is_kept(harness, monkeypatch, tmp_path) -> None:
    daemon, fake = await resume_daemon(harness, monkeypatch, tmp_path)
    peer, work = harness.peer, tmp_path / "work"
    work.mkdir()
    ack = await peer.command("session.start", driver="claude", cwd=str(work), resume=EARLIER)
    assert ack["ok"], ack
    name = ack["result"]["session"]["name"]
    assert ack["result"]["session"]["conversation"] == EARLIER  # known before the agent reports anything
    argv_file = Path(f"{fake}.argv")
    await peer.wait_for(argv_file.exists, what="the stand-in claude's argv")
    argv = (await asyncio.to_thread(argv_file.read_text)).splitlines()
    assert argv[argv.index("--resume") + 1] == EARLIER

    # the agent reports a conversation id of its own (e.g. after /clear): the daemon follows it
    first = json.loads(HOOKS.read_text(encoding="utf-8").splitlines()[0])["payload"]
    env = {"PATH": os.environ["PATH"], "IMCODES_HOME": str(harness.home), "IMCODES_SESSION": name}
    for session_id in (NEWER, "--not-an-id"):  # a value that could pass for a CLI flag is never kept
        received = daemon.events.received
        code, _, _ = await run_hook(json.dumps({**first, "session_id": session_id}).encode(), env)
        assert code == 0
        await peer.wait_for(lambda n=received: daemon.events.received > n, what="the hook event routed")

    def conversations() -> list[str | None]:
        return [f["session"]["conversation"] for f in peer.frames if f["type"] == "session.updated"]

    await peer.wait_for(lambda: NEWER in conversations(), what=f"session.updated with {NEWER}")
    assert daemon.registry.get(name).info().conversation == NEWER
    await asyncio.sleep(0.7)  # sessions.json is debounced
    stored = json.loads((harness.home / "sessions.json").read_text())
    assert [s["conversation"] for s in stored["sessions"] if s["name"] == name] == [NEWER]

    assert (await peer.command("session.stop", session=name))["ok"]
    (exited,) = peer.events(name, "session.exited")
    assert exited["data"] == {"status": "stopped", "conversation": NEWER}


async def test_qwen_resume_reaches_its_command_line(harness, monkeypatch, tmp_path: Path) -> None:
    fake = tmp_path / "fake-qwen"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$0.argv"\nexec cat > /dev/null\n')
    fake.chmod(0o755)
    monkeypatch.setenv("IMCODES_QWEN_BINARY", str(fake))
    await resume_daemon(harness, monkeypatch, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    ack = await harness.peer.command("session.start", driver="qwen", cwd=str(work), name="r-qwen", resume=EARLIER)
    assert ack["ok"], ack
    assert ack["result"]["session"]["conversation"] == EARLIER
    argv_file = Path(f"{fake}.argv")
    await harness.peer.wait_for(argv_file.exists, what="the stand-in qwen's argv")
    argv = (await asyncio.to_thread(argv_file.read_text)).splitlines()
    assert argv[argv.index("--resume") + 1] == EARLIER and "--json-file" in argv
    assert (await harness.peer.command("session.stop", session="r-qwen"))["ok"]


async def test_opencode_resume_reaches_its_command_line(harness, monkeypatch, tmp_path: Path) -> None:
    fake = tmp_path / "fake-opencode"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$0.argv"\nexec cat > /dev/null\n')
    fake.chmod(0o755)
    monkeypatch.setenv("IMCODES_OPENCODE_BINARY", str(fake))
    await resume_daemon(harness, monkeypatch, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    ack = await harness.peer.command("session.start", driver="opencode", cwd=str(work), name="r-oc", resume=EARLIER)
    assert ack["ok"], ack
    assert ack["result"]["session"]["conversation"] == EARLIER
    argv_file = Path(f"{fake}.argv")
    await harness.peer.wait_for(argv_file.exists, what="the stand-in opencode's argv")
    argv = (await asyncio.to_thread(argv_file.read_text)).splitlines()
    assert argv[argv.index("--session") + 1] == EARLIER and argv[argv.index("--port") + 1].isdigit()
    assert (await harness.peer.command("session.stop", session="r-oc"))["ok"]
