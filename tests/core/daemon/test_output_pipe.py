"""Live output through ``pipe-pane`` into the daemon's FIFO: complete and in order, snapshot first, one pipe per pane
(also after a restarted daemon took the session over), the control client's own output stream switched off."""

from __future__ import annotations

from pathlib import Path

import pytest

from imcodes_core.daemon.stream import Viewer
from imcodes_core.protocol.binary import BinaryKind

pytestmark = pytest.mark.tmux

COUNT = 40_000  # ~250 KB: well inside a viewer's bound, so nothing may be dropped


def _numbers(count: int) -> bytes:
    return b"\r\n".join(str(i).encode() for i in range(1, count + 1)) + b"\r\n"


async def test_a_flood_arrives_complete_and_in_order_after_the_snapshot(harness, tmp_path: Path) -> None:
    await harness.linked_daemon()
    peer = harness.peer
    name = await harness.start_shell(tmp_path)
    assert (await peer.command("terminal.subscribe", session=name))["ok"]
    await peer.wait_for(lambda: [f for f in peer.binary if f.stream == name and f.kind is BinaryKind.SNAPSHOT])
    await peer.command("terminal.input", session=name, data=f"seq 1 {COUNT}; echo done-$((6*7))\r")
    await peer.wait_for(lambda: b"done-42" in peer.output_after_snapshot(name), within=30)
    streamed = peer.output_after_snapshot(name)
    assert _numbers(COUNT) in streamed
    assert not [f for f in peer.binary if f.stream == name and f.kind is BinaryKind.RESET]

    pipes = harness.tmux("list-panes", "-a", "-F", "#{session_name} #{pane_pipe}").stdout.split("\n")
    assert f"{name} 1" in pipes  # the pane's output goes to our pipe
    flags = harness.tmux("list-clients", "-F", "#{client_session} #{client_flags}").stdout
    ours = [line for line in flags.splitlines() if line.startswith(f"{name} ")]
    assert ours and all("no-output" in line for line in ours)  # tmux does not escape the stream a second time


async def test_a_restarted_daemon_pipes_the_adopted_pane_again_and_cleans_up(harness, tmp_path: Path) -> None:
    daemon = await harness.linked_daemon()
    peer = harness.peer
    name = await harness.start_shell(tmp_path)
    fifo = daemon.registry.sessions[name].pipe.path
    assert fifo.exists()
    await harness.stop_daemon()
    assert not fifo.parent.exists()  # the daemon's FIFO directory goes with it; the tmux session stays
    assert harness.tmux("has-session", "-t", f"={name}").returncode == 0

    daemon = await harness.linked_daemon()
    assert name in daemon.registry.sessions
    assert (await peer.command("terminal.subscribe", session=name))["ok"]
    await peer.command("terminal.input", session=name, data="echo adopted-$((5*5))\r")
    await peer.wait_for(lambda: b"adopted-25" in peer.output_after_snapshot(name).split(b"echo adopted")[-1])
    panes = harness.tmux("list-panes", "-t", f"={name}:", "-F", "#{pane_pipe}").stdout.split()
    assert panes == ["1"]


def test_bytes_read_while_a_snapshot_is_captured_follow_it_and_only_the_latest_capture_counts() -> None:
    woken: list[int] = []
    viewer = Viewer(1000, lambda: woken.append(1))
    assert viewer.output(b"before")  # no snapshot yet: nothing to show it on
    first = viewer.begin_capture(reset=True)
    viewer.output(b"during-1 ")
    second = viewer.begin_capture(reset=False)
    viewer.output(b"during-2")
    assert viewer.snapshot(b"old screen", first)  # superseded: ignored
    assert not viewer.pending
    assert viewer.snapshot(b"screen", second)
    assert viewer.take() == [
        (BinaryKind.RESET, b""),  # asked for by the first capture, still owed
        (BinaryKind.SNAPSHOT, b"screen"),
        (BinaryKind.OUTPUT, b"during-2"),
    ]
    assert viewer.output(b"live")
    assert viewer.take() == [(BinaryKind.OUTPUT, b"live")]

    capture = viewer.begin_capture(reset=False)
    viewer.output(b"x" * 1001)  # more than the bound while capturing: this snapshot cannot be completed
    assert not viewer.snapshot(b"screen", capture)
    assert viewer.resyncing and not viewer.pending
