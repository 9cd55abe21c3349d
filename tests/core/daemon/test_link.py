"""The server link: hello / persisted / resend, malformed frames, refused token, unpaired start, slow viewer."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from imcodes_core.protocol.binary import BinaryKind, encode_binary
from imcodes_core.protocol.frames import MAX_TEXT_FRAME_BYTES

pytestmark = pytest.mark.tmux


async def test_hello_then_sync_then_only_unpersisted_events_are_resent(harness, tmp_path: Path) -> None:
    await harness.linked_daemon()
    peer = harness.peer
    hello = peer.hellos[0]
    assert hello["type"] == "daemon.hello" and hello["machine"] == "m-test0001"
    assert [d["name"] for d in hello["drivers"]] == ["shell"]
    name = await harness.start_shell(tmp_path)
    for word in ("one", "two", "three"):
        await peer.command("terminal.input", session=name, data=f"echo {word}\r")
    await peer.wait_for(lambda: len(peer.events(name, "input")) == 3)
    await asyncio.sleep(0.6)  # let the output event of the last line land too
    sent = [(e["epoch"], e["seq"]) for e in peer.events(name)]
    assert sent == [(1, s) for s in range(1, len(sent) + 1)], "live events are sent in order without gaps"

    # the server went away having persisted only the first two events of that session
    peer.persisted = {name: [1, 2]}
    peer.frames.clear()
    await peer.ws.close(1012, "restart")
    await peer.wait_for(lambda: peer.find("sessions.sync"), within=15, what="sessions.sync after reconnect")
    await peer.wait_for(lambda: len(peer.events(name)) >= len(sent) - 2)
    types = [f["type"] for f in peer.frames if f["type"] != "ping"]
    assert types[0] == "sessions.sync" and [s["name"] for s in peer.frames[0]["sessions"]] == [name]
    resent = [(e["epoch"], e["seq"]) for e in peer.events(name)]
    assert resent[: len(sent) - 2] == sent[2:], "exactly the events after the persisted position, in order"
    assert len(peer.hellos) == 2


async def test_malformed_unknown_oversized_and_binary_frames_get_error_frames(
    harness, tmp_path: Path, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    daemon = await harness.linked_daemon()
    peer = harness.peer
    secret = "payload-secret-" + "x" * 20
    await peer.send_raw("{not json " + secret)
    await peer.send_raw(json.dumps({"v": 1, "type": "no.such.frame", "id": "u1", "note": secret}))
    await peer.send_raw(json.dumps({"v": 1, "type": "terminal.resize", "id": "r1", "session": "x", "cols": 0}))
    await peer.send_raw(json.dumps({"v": 2, "type": "ping"}))
    await peer.send_raw(json.dumps({"v": 1, "type": "daemon.hello", "machine": "m-x", "id": "h1"}))
    await peer.send_raw(json.dumps({"v": 1, "type": "ping", "pad": "y" * (MAX_TEXT_FRAME_BYTES + 10)}))
    await peer.send_raw(encode_binary(BinaryKind.OUTPUT, "x", b"abc"))
    errors = await peer.wait_for(lambda: [f for f in peer.frames if f["type"] == "error"] if len(
        [f for f in peer.frames if f["type"] == "error"]) >= 7 else None)  # fmt: skip
    assert [e["code"] for e in errors] == [
        "malformed", "unknown_type", "invalid", "bad_version", "not_allowed", "too_large", "not_allowed"
    ]  # fmt: skip
    assert errors[1]["ref"] == "u1" and errors[2]["ref"] == "r1"
    assert secret not in caplog.text and "yyyy" not in caplog.text
    # still linked and working
    ack = await peer.command("session.start", driver="shell", cwd=str(tmp_path))
    assert ack["ok"] and daemon.link.live and peer.connections == 1
    unknown = await peer.command("terminal.input", session="nope", data="x")
    assert not unknown["ok"] and "nope" in unknown["error"]


async def test_refused_token_is_logged_and_retried_slowly_with_link_json_read_again(harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    harness.write_link(token="tok-wrong-" + "b" * 24)
    daemon = await harness.start_daemon(token_refused_retry=1.0)
    peer = harness.peer
    await peer.wait_for(lambda: peer.refused >= 1)
    await asyncio.sleep(0.5)
    assert peer.refused == 1, "a refused token is not retried at once"
    assert "token refused: pair again with imcodes up/bind" in caplog.text
    assert "tok-wrong" not in caplog.text
    harness.write_link()  # paired again
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    assert peer.hellos


async def test_unpaired_daemon_keeps_running_and_links_once_paired(harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    (harness.home / "link.json").unlink()
    daemon = await harness.start_daemon(unpaired_retry=0.3)
    await asyncio.sleep(0.1)
    assert "not paired: run imcodes up" in caplog.text
    assert harness.peer.connections == 0
    live = await daemon.registry.start("shell", str(harness.home), "offline")
    assert live.name in daemon.registry.sessions
    harness.write_link()
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    sync = await harness.peer.wait_for(lambda: harness.peer.find("sessions.sync"))
    assert [s["name"] for s in sync["sessions"]] == [live.name]
    # the events from before the link existed were journaled and resent
    assert harness.peer.events(live.name)[0]["kind"] == "session.started"


async def test_slow_viewer_gets_reset_and_a_fresh_snapshot_with_bounded_memory(harness, tmp_path: Path) -> None:
    limit = 64 * 1024
    daemon = await harness.linked_daemon(viewer_limit=limit)
    peer = harness.peer
    name = await harness.start_shell(tmp_path)
    await peer.command("terminal.subscribe", session=name)
    await peer.wait_for(lambda: [f for f in peer.binary if f.stream == name and f.kind is BinaryKind.SNAPSHOT])
    live = daemon.registry.sessions[name]
    viewer = live.viewers["link"]
    peer.ws.transport.pause_reading()  # the server stops reading: TCP fills up, the daemon's sends block
    try:
        live.input("seq 1 3000000\r")
        biggest = 0
        for _ in range(400):
            biggest = max(biggest, viewer.size)
            if viewer.resets:
                break
            await asyncio.sleep(0.025)
        assert viewer.resets >= 1, "the viewer never fell behind"
        assert biggest <= limit
    finally:
        peer.ws.transport.resume_reading()
    live.input("\x03")
    kinds = await peer.wait_for(
        lambda: (k := [f.kind for f in peer.binary if f.stream == name]) and BinaryKind.RESET in k and k.index(
            BinaryKind.RESET) + 1 < len(k) and k,
        within=20,
    )  # fmt: skip
    after_reset = kinds[kinds.index(BinaryKind.RESET) + 1]
    assert after_reset is BinaryKind.SNAPSHOT, "a reset is followed by a fresh snapshot"
    # the timeline kept a coalesced record while output flowed: at most about one output event per 500 ms
    outputs = await peer.wait_for(
        lambda: (o := peer.events(name, "output")) and sum(e["data"]["bytes"] for e in o) > 4 * limit and o
    )
    span = max(outputs[-1]["at"] - outputs[0]["at"], 0.5)
    assert len(outputs) <= span / 0.5 + 2
