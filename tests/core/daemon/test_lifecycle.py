"""The daemon as a process: single instance per home, graceful stop on signals, adoption after a restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from imcodes_core.daemon.lifecycle import AlreadyRunningError

pytestmark = pytest.mark.tmux


def _spawn(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "imcodes_core.daemon", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )


def _stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        out, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate(timeout=5)
    return process.returncode, out


async def test_a_second_daemon_for_the_same_home_exits_with_a_clear_message(harness) -> None:
    daemon = await harness.start_daemon()
    lock = harness.home / "daemon" / "daemon.lock"
    assert lock.read_text().strip() == str(os.getpid())
    second = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "imcodes_core.daemon", "--home", str(harness.home)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1
    assert "another imcodes daemon" in second.stderr and str(os.getpid()) in second.stderr
    with pytest.raises(AlreadyRunningError):
        await type(daemon)(daemon.config, daemon.host).serve(install_signals=False)


async def test_sigterm_stops_gracefully_and_a_restarted_daemon_adopts_the_session(harness, tmp_path: Path) -> None:
    peer = harness.peer
    first = _spawn(harness.home)
    try:
        await peer.wait_for(lambda: peer.find("sessions.sync"), within=20, what="first daemon linked")
        name = await harness.start_shell(tmp_path, label="kept")
        await peer.command("terminal.input", session=name, data="echo before-restart\r")
        await harness.screen_shows(name, "before-restart")
        await peer.wait_for(lambda: peer.events(name, "output"))
    finally:
        code, out = await asyncio.to_thread(_stop, first)
    assert code == 0, out
    assert "daemon stopped" in out
    assert harness.tmux("has-session", "-t", f"={name}").returncode == 0, "the tmux session outlives the daemon"
    stored = json.loads((harness.home / "sessions.json").read_text())
    assert [s["name"] for s in stored["sessions"]] == [name]
    seen = [(e["epoch"], e["seq"]) for e in peer.events(name)]
    peer.persisted = {name: list(seen[-1])}  # the server stored everything it got
    peer.frames.clear()

    second = _spawn(harness.home)
    try:
        sync = await peer.wait_for(lambda: peer.find("sessions.sync"), within=20, what="second daemon linked")
        assert [(s["name"], s["label"]) for s in sync["sessions"]] == [(name, "kept")]
        await peer.wait_for(lambda: peer.events(name, "session.adopted"))
        after = [(e["epoch"], e["seq"]) for e in peer.events(name)]
        # nothing persisted is resent; what was journaled after the last send (the final output) comes first
        assert after == [(seen[-1][0], seen[-1][1] + i) for i in range(1, len(after) + 1)]
        await peer.command("terminal.subscribe", session=name)
        snap = await peer.wait_for(lambda: [f for f in peer.binary if f.stream == name])
        assert b"before-restart" in snap[0].payload
        await peer.command("terminal.input", session=name, data="echo after-restart\r")
        await harness.screen_shows(name, "after-restart")
    finally:
        code, out = await asyncio.to_thread(_stop, second, signal.SIGINT)
    assert code == 0, out
