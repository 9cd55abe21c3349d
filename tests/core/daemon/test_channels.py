"""The hook event channel: a real daemon, a real ``imcodes hook`` subprocess per event, state and chat events.

The daemon runs the imcodes-claude plugin with a stand-in ``claude`` (a script that records its command line and
waits), so the hook events replayed from the recorded fixture are the only source of the session's state.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import imcodes_claude.plugin as claude_plugin
import pytest

from imcodes_core.daemon.channels import last_assistant_text
from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.host import make_plugin_host

pytestmark = pytest.mark.tmux

ROOT = Path(__file__).resolve().parents[3]
HOOKS = ROOT / "plugins/imcodes-claude/tests/fixtures/claude-hooks.jsonl"
IMCODES = Path(sys.executable).with_name("imcodes")
ANSWER = "The answer read from the transcript."


def recorded_payloads(transcript: Path, count: int) -> list[dict[str, Any]]:
    lines = HOOKS.read_text(encoding="utf-8").splitlines()[:count]
    return [{**json.loads(line)["payload"], "transcript_path": str(transcript)} for line in lines]


def write_transcript(path: Path) -> None:
    """A Claude Code transcript's shape: the prompt, a tool use and its result, then the answer in two entries."""
    entries = [
        {"type": "user", "message": {"role": "user", "content": "please RUNTOOL again"}},
        {"type": "assistant", "message": {"role": "assistant", "content": [{"type": "tool_use", "id": "t1"}]}},
        {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]}},
        {"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text", "text": ANSWER}]}},
        {"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text", "text": "More."}]}},
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")


async def run_hook(payload: bytes, env: dict[str, str]) -> tuple[int, bytes, float]:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        str(IMCODES), "hook", "claude", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env
    )
    out, _ = await asyncio.wait_for(process.communicate(payload), 10)
    return process.returncode or 0, out, time.monotonic() - started


async def claude_daemon(harness: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Daemon, Path]:
    fake = tmp_path / "fake-claude"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$0.argv"\nexec cat > /dev/null\n')
    fake.chmod(0o755)
    monkeypatch.setenv("IMCODES_CLAUDE_BINARY", str(fake))
    host = make_plugin_host(load_entry_points=False)
    host.register(claude_plugin, "claude", distribution="imcodes-claude")
    daemon = Daemon(DaemonConfig.create(harness.home), host)
    harness.daemon, harness.task = daemon, asyncio.create_task(daemon.serve(install_signals=False))
    await asyncio.wait_for(daemon.started.wait(), 10)
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    return daemon, fake


async def test_hook_events_drive_state_and_chat_events(harness, monkeypatch, tmp_path: Path) -> None:
    daemon, fake = await claude_daemon(harness, monkeypatch, tmp_path)
    peer = harness.peer
    socket_path = harness.home.resolve() / "daemon" / "events.sock"
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600

    work = tmp_path / "work"
    work.mkdir()
    ack = await peer.command("session.start", driver="claude", cwd=str(work))
    assert ack["ok"], ack
    name = ack["result"]["session"]["name"]
    argv_file = Path(f"{fake}.argv")
    await peer.wait_for(argv_file.exists, what="the stand-in claude's argv")
    argv = (await asyncio.to_thread(argv_file.read_text)).splitlines()
    settings = json.loads(argv[argv.index("--settings") + 1])
    command = settings["hooks"]["PermissionRequest"][0]["hooks"][0]["command"]
    assert command.endswith("imcodes hook claude") and settings["hooks"]["PermissionRequest"][0]["matcher"] == "*"

    transcript = tmp_path / "t.jsonl"
    write_transcript(transcript)
    env = {"PATH": os.environ["PATH"], "IMCODES_HOME": str(harness.home), "IMCODES_SESSION": name}
    for payload in recorded_payloads(transcript, 12):
        received = daemon.events.received
        code, out, took = await run_hook(json.dumps(payload).encode(), env)
        assert (code, out) == (0, b"") and took < 5
        await peer.wait_for(lambda n=received: daemon.events.received > n, what=payload["hook_event_name"])

    def states() -> list[str]:
        return [e["data"]["state"] for e in peer.events(name, "state.changed")]

    expected = ["starting", "idle", "working", "idle", "working", "waiting_permission", "working", "idle"]
    await peer.wait_for(lambda: states() == expected, what=f"states {expected}, got {states()}")
    changes = peer.events(name, "state.changed")
    asking = changes[5]["data"]
    assert asking["detector"] == "claude-events" and asking["source"] == "structured"
    assert asking["reason"].startswith("claude-events: PermissionRequest hook: Bash 'echo fake-tool-ran")
    assert changes[-1]["data"]["reason"] == "claude-events: Stop hook"
    updated = [f["session"] for f in peer.frames if f["type"] == "session.updated" and f["session"]["name"] == name]
    assert updated[-1]["state"] == "idle"
    assert updated[-1]["state_reason"]["readings"][0]["evidence"] == "Stop hook"

    prompts = [e["data"]["text"] for e in peer.events(name, "user.prompt")]
    assert prompts == ["please RUNTOOL now", "please RUNTOOL again"]
    (call,) = peer.events(name, "tool.call")
    assert call["data"]["tool"] == "Bash" and "echo fake-tool-ran" in call["data"]["input"]
    (result,) = peer.events(name, "tool.result")
    assert result["data"]["id"] == call["data"]["id"] == "toolu_95ece3beb15c44f2bdbe"
    (asked,) = peer.events(name, "permission.requested")  # the Notification that followed is not a second one
    assert asked["data"]["tool"] == "Bash" and asked["data"]["via"] == "hook"
    finals = [e["data"]["text"] for e in peer.events(name, "assistant.final")]
    assert finals == [f"{ANSWER}\n\nMore.", f"{ANSWER}\n\nMore."]

    assert (await peer.command("session.stop", session=name))["ok"]


async def test_hook_never_fails_the_agent_and_the_daemon_drops_what_it_cannot_route(
    harness, monkeypatch, tmp_path: Path
) -> None:
    # No daemon listening: the hook still exits 0 at once, printing nothing.
    nobody = {"PATH": os.environ["PATH"], "IMCODES_HOME": str(tmp_path / "absent"), "IMCODES_SESSION": "s"}
    assert await run_hook(b'{"hook_event_name": "Stop"}', nobody) == (0, b"", pytest.approx(0, abs=3))

    daemon, _ = await claude_daemon(harness, monkeypatch, tmp_path)
    env = {"PATH": os.environ["PATH"], "IMCODES_HOME": str(harness.home), "IMCODES_SESSION": "no-such-session"}
    for junk in (b"not json", b"[1, 2]", b'{"hook_event_name": "Stop"}'):
        code, out, _ = await run_hook(junk, env)
        assert (code, out) == (0, b"")
    # a raw client too: malformed lines and an unknown session are dropped, the socket keeps serving
    _reader, writer = await asyncio.open_unix_connection(str(daemon.config.events_socket))
    writer.write(b'not json\n{"session": "x", "payload": 3}\n{"session": "x", "payload": {}}\n')
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.2)
    assert daemon.events.received == 0
    await harness.stop_daemon()
    assert not daemon.config.events_socket.exists()


def test_last_assistant_text_reads_only_the_tail_of_the_last_turn(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    write_transcript(transcript)
    assert last_assistant_text(str(transcript)) == f"{ANSWER}\n\nMore."
    padding = json.dumps({"type": "assistant", "message": {"content": [{"type": "text", "text": "x" * 1000}]}})
    big = tmp_path / "big.jsonl"
    big.write_text(transcript.read_text() + (padding + "\n") * 50 + transcript.read_text())
    assert last_assistant_text(str(big), tail_bytes=4096) == f"{ANSWER}\n\nMore."
    assert last_assistant_text(str(tmp_path / "missing.jsonl")) == ""
    assert last_assistant_text(str(tmp_path / "t.txt")) == ""
