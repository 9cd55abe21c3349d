"""Sessions through the daemon's commands, against real tmux on a private socket."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from imcodes_core.daemon.sessions import RestartPolicy
from imcodes_core.protocol.binary import BinaryKind

pytestmark = pytest.mark.tmux


async def test_start_list_rename_stop(harness, tmp_path: Path) -> None:
    await harness.linked_daemon()
    peer = harness.peer
    work = tmp_path / "work"
    work.mkdir()
    name = await harness.start_shell(work, label="first")
    assert name.startswith("shell-")
    option = json.loads(harness.tmux("show-options", "-v", "-t", f"={name}:", "@imcodes").stdout)
    assert option["driver"] == "shell" and option["label"] == "first" and option["cwd"] == str(work)
    assert [e["kind"] for e in peer.events(name)][:1] == ["session.started"]
    assert peer.events(name)[0]["data"] == {"driver": "shell", "cwd": str(work), "label": "first"}

    ack = await peer.command("session.rename", session=name, label="renamed")
    assert ack["ok"] and ack["result"]["session"]["label"] == "renamed"
    assert json.loads(harness.tmux("show-options", "-v", "-t", f"={name}:", "@imcodes").stdout)["label"] == "renamed"
    await peer.wait_for(lambda: peer.events(name, "session.renamed"))

    bad = await peer.command("session.start", driver="nope", cwd=str(work))
    assert not bad["ok"] and "nope" in bad["error"]
    missing = await peer.command("session.start", driver="shell", cwd=str(tmp_path / "absent"))
    assert not missing["ok"] and "does not exist" in missing["error"]
    named = await peer.command("session.start", driver="shell", cwd=str(work), name="mine")
    assert named["ok"] and named["result"]["session"]["name"] == "mine"
    again = await peer.command("session.start", driver="shell", cwd=str(work), name="mine")
    assert not again["ok"] and "already exists" in again["error"]

    # sessions.json follows (debounced, atomic)
    await asyncio.sleep(0.7)
    stored = json.loads((harness.home / "sessions.json").read_text())
    assert sorted(s["name"] for s in stored["sessions"]) == sorted([name, "mine"])

    ack = await peer.command("session.stop", session=name)
    assert ack["ok"]
    assert harness.tmux("has-session", "-t", f"={name}").returncode != 0
    await peer.wait_for(lambda: peer.find("session.removed", session=name))
    assert peer.events(name)[-1]["kind"] == "session.exited"
    unknown = await peer.command("session.stop", session=name)
    assert not unknown["ok"] and "no session" in unknown["error"]


async def test_retried_command_id_is_acked_again_and_runs_once(harness, tmp_path: Path) -> None:
    daemon = await harness.linked_daemon()
    peer = harness.peer
    frame = {"v": 1, "type": "session.start", "id": "start-once", "driver": "shell", "cwd": str(tmp_path)}
    await peer.send_raw(json.dumps(frame))
    first = await peer.ack("start-once")
    await peer.send_raw(json.dumps(frame))
    await peer.wait_for(lambda: len([f for f in peer.frames if f.get("ref") == "start-once"]) == 2)
    acks = [f for f in peer.frames if f.get("ref") == "start-once"]
    assert acks[0] == acks[1] == first
    assert len(daemon.registry.sessions) == 1
    assert len(harness.tmux("list-sessions", "-F", "#{session_name}").stdout.split()) == 1


KEY_READER = """
import os, sys, tty
tty.setraw(0)
out = open(sys.argv[1], "ab", buffering=0)
os.write(1, b"READY\\r\\n")
while True:
    out.write(os.read(0, 4096))
"""


async def test_input_bytes_reach_the_pane_exactly(harness, tmp_path: Path) -> None:
    await harness.linked_daemon()
    peer = harness.peer
    name = await harness.start_shell(tmp_path)
    script, received = tmp_path / "reader.py", tmp_path / "received.bin"
    script.write_text(KEY_READER)
    ack = await peer.command("terminal.input", session=name, data=f"{sys.executable} {script} {received}\r")
    assert ack["ok"]
    await harness.screen_shows(name, "READY")
    keys = [
        "ls -la",
        "\r",
        "\x03",
        "\x1b[A",
        "\x1b[D",
        "\t",
        "\x1bOP",
        "\x1b",
        "\x7f",
        "héllo ✓ 日本",
        "\x1b[200~pasted\rtext\x1b[201~",
    ]
    for key in keys:
        assert (await peer.command("terminal.input", session=name, data=key))["ok"]
    expected = "".join(keys).encode()
    for _ in range(100):
        if received.exists() and len(received.read_bytes()) >= len(expected):
            break
        await asyncio.sleep(0.05)
    assert received.read_bytes() == expected
    lines = [e["data"]["text"] for e in peer.events(name, "input")]
    assert lines[0].endswith(f"{script} {received}")
    assert "ls -la" in lines


async def test_input_timeline_redacts_secrets(harness, tmp_path: Path) -> None:
    await harness.linked_daemon()
    peer = harness.peer
    name = await harness.start_shell(tmp_path)
    await peer.command("terminal.input", session=name, data="export API_KEY=sk-ant-abcdefghijklmnopqrstuvwxyz\r")
    event = await peer.wait_for(lambda: peer.events(name, "input"))
    assert "abcdefghijklmnop" not in event[0]["data"]["text"] and "[redacted]" in event[0]["data"]["text"]


async def test_subscribe_gets_snapshot_then_live_output_and_state(harness, tmp_path: Path) -> None:
    await harness.linked_daemon()
    peer = harness.peer
    name = await harness.start_shell(tmp_path)
    await peer.command("terminal.input", session=name, data="echo before-$((40+2))\r")
    await harness.screen_shows(name, "before-42")
    assert (await peer.command("terminal.subscribe", session=name))["ok"]
    snapshot = await peer.wait_for(lambda: [f for f in peer.binary if f.stream == name])
    assert snapshot[0].kind is BinaryKind.SNAPSHOT
    assert snapshot[0].payload.startswith(b"\x1b[H\x1b[2J") and b"before-42" in snapshot[0].payload
    assert snapshot[0].payload.rstrip(b"\x1b[?25l\x1b[?1h").endswith(b"H")  # the cursor is put back

    await peer.command("terminal.input", session=name, data="echo live-$((20+3))\r")
    await peer.wait_for(lambda: b"live-23" in peer.output_after_snapshot(name).split(b"echo live")[-1])
    assert all(f.kind is BinaryKind.OUTPUT for f in peer.binary[1:] if f.stream == name)
    output = await peer.wait_for(lambda: peer.events(name, "output"))
    assert output[0]["data"]["bytes"] > 0 and "\x1b" not in output[0]["data"]["tail"]
    states = await peer.wait_for(lambda: peer.events(name, "state.changed"))
    assert states[0]["data"]["state"] in {"idle", "working", "starting"}
    updated = await peer.wait_for(
        lambda: [f for f in peer.frames if f["type"] == "session.updated" and f["session"].get("state_reason")]
    )
    assert updated[-1]["session"]["state_reason"]["readings"]

    assert (await peer.command("terminal.resize", session=name, cols=90, rows=30))["ok"]
    size = harness.tmux("display-message", "-p", "-t", f"={name}:", "#{window_width}x#{window_height}").stdout
    for _ in range(50):
        if size.strip() == "90x30":
            break
        await asyncio.sleep(0.05)
        size = harness.tmux("display-message", "-p", "-t", f"={name}:", "#{window_width}x#{window_height}").stdout
    assert size.strip() == "90x30"
    await peer.wait_for(lambda: peer.events(name, "resized"))

    assert (await peer.command("terminal.unsubscribe", session=name))["ok"]
    count = len(peer.binary)
    await peer.command("terminal.input", session=name, data="echo after-unsubscribe\r")
    await harness.screen_shows(name, "after-unsubscribe")
    await asyncio.sleep(0.2)
    assert len(peer.binary) == count


async def test_dead_session_restarts_within_its_budget_then_is_marked_error(harness, tmp_path: Path) -> None:
    daemon = await harness.linked_daemon()
    peer = harness.peer
    live = await daemon.registry.start("shell", str(tmp_path), "restarts", restart=RestartPolicy(2, 60))
    name = live.name
    for round_ in (1, 2):
        live.input("exit\r")
        await peer.wait_for(
            lambda r=round_: [e for e in peer.events(name, "session.started") if e["data"].get("restart") == r],
            what=f"restart {round_}",
        )
    live.input("exit\r")
    await peer.wait_for(lambda: [e for e in peer.events(name, "state.changed") if e["data"]["state"] == "error"])
    assert name in daemon.registry.sessions and daemon.registry.sessions[name].info().state == "error"
    assert len(peer.events(name, "session.exited")) == 3
    ack = await peer.command("session.stop", session=name)
    assert ack["ok"] and name not in daemon.registry.sessions


async def test_a_shell_that_exits_is_removed(harness, tmp_path: Path) -> None:
    daemon = await harness.linked_daemon()
    peer = harness.peer
    name = await harness.start_shell(tmp_path)
    await peer.command("terminal.input", session=name, data="exit 3\r")
    await peer.wait_for(lambda: peer.find("session.removed", session=name))
    assert [e["kind"] for e in peer.events(name)][-2:] == ["session.exited", "state.changed"]
    assert name not in daemon.registry.sessions


async def test_a_shell_settles_to_idle_after_each_command_typed_key_by_key(harness, tmp_path: Path) -> None:
    """Typing shows working (no prompt at the end of the line); once the command's output and the next prompt are
    on screen the state must come back to idle, even when a screen read was in flight as the prompt arrived."""
    daemon = await harness.linked_daemon()
    peer = harness.peer
    name = await harness.start_shell(tmp_path)
    for round_ in range(3):
        for char in f"echo round-{round_}":
            await peer.command("terminal.input", session=name, data=char)
        await peer.command("terminal.input", session=name, data="\r")
        await harness.screen_shows(name, f"round-{round_}")
        for _ in range(60):  # up to 3 s: the next output flush reads the screen within 0.5 s
            if daemon.registry.sessions[name].info().state == "idle":
                break
            await asyncio.sleep(0.05)
        assert daemon.registry.sessions[name].info().state == "idle", peer.events(name, "state.changed")[-3:]


async def test_starting_right_after_stopping_the_last_session_works(harness, tmp_path: Path) -> None:
    """Stopping the only session makes the tmux server exit; a start in that instant must still succeed."""
    await harness.linked_daemon()
    peer = harness.peer
    for _ in range(5):
        name = await harness.start_shell(tmp_path)
        assert (await peer.command("session.stop", session=name))["ok"]
        again = await peer.command("session.start", driver="shell", cwd=str(tmp_path))
        assert again["ok"], again
        assert (await peer.command("session.stop", session=again["result"]["session"]["name"]))["ok"]
