"""Terminal bytes and link health: binary frames reach subscribers only (stream renamed machine/session), every new
viewer gets a snapshot request, the last one leaving unsubscribes, a slow viewer gets a RESET instead of unbounded
memory, heartbeats, a replaced daemon connection, disconnect_machine."""

from __future__ import annotations

import asyncio
import json

import pytest
from imcodes_server import bridge
from websockets.exceptions import ConnectionClosed

from imcodes_core.protocol.binary import BinaryKind, decode_binary, encode_binary

pytestmark = pytest.mark.postgres


async def _binary(ws, within: float = 5.0):
    async with asyncio.timeout(within):
        while True:
            raw = await ws.recv()
            if isinstance(raw, bytes):
                return decode_binary(raw)


async def _closed_code(ws, within: float = 5.0) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_binary_frames_reach_subscribers_only(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine, [peers.session_info("s"), peers.session_info("t")])
    viewer, _ = await peers.browser(user)
    bystander, _ = await peers.browser(user)
    await viewer.send(peers.frame("terminal.subscribe", id="sub-1", machine=machine, session="s"))
    subscribe = await peers.next_frame(daemon, "terminal.subscribe")
    assert subscribe["session"] == "s"
    await daemon.send(peers.frame("ack", ref=subscribe["id"], ok=True))
    assert (await peers.next_frame(viewer, "ack"))["ref"] == "sub-1"

    await daemon.send(encode_binary(BinaryKind.SNAPSHOT, "s", b"\x1b[H\x1b[2Jscreen"))
    await daemon.send(encode_binary(BinaryKind.OUTPUT, "t", b"not watched"))
    await daemon.send(encode_binary(BinaryKind.OUTPUT, "s", b"hello"))
    first, second = await _binary(viewer), await _binary(viewer)
    assert (first.kind, first.stream, first.payload) == (BinaryKind.SNAPSHOT, f"{machine}/s", b"\x1b[H\x1b[2Jscreen")
    assert (second.kind, second.stream, second.payload) == (BinaryKind.OUTPUT, f"{machine}/s", b"hello")
    # JSON frames (a late link.status or session update under load) may still arrive; terminal bytes must not
    unseen = [raw for raw in await peers.silent(bystander, 0.3) if isinstance(raw, bytes)]
    assert unseen == [], "a browser that did not subscribe gets no terminal bytes"

    # a second viewer: the daemon is asked again, so the newcomer gets its own snapshot
    await bystander.send(peers.frame("terminal.subscribe", id="sub-2", machine=machine, session="s"))
    again = await peers.next_frame(daemon, "terminal.subscribe")
    assert again["session"] == "s" and again["id"] != subscribe["id"]
    # one leaves: the daemon keeps streaming; the last leaves (by disconnecting): the daemon is told to stop
    await viewer.send(peers.frame("terminal.unsubscribe", machine=machine, session="s"))
    assert not [raw for raw in await peers.silent(daemon, 0.3) if "terminal.unsubscribe" in raw], "one still watches"
    await bystander.close()
    stop = await peers.next_frame(daemon, "terminal.unsubscribe")
    assert stop["session"] == "s"
    await daemon.send(encode_binary(BinaryKind.OUTPUT, "s", b"nobody"))
    assert [raw for raw in await peers.silent(viewer, 0.3) if isinstance(raw, bytes)] == []


async def test_a_daemon_reconnect_resubscribes_open_terminals(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine, [peers.session_info("s")])
    viewer, _ = await peers.browser(user)
    await viewer.send(peers.frame("terminal.subscribe", machine=machine, session="s"))
    await peers.next_frame(daemon, "terminal.subscribe")
    await daemon.close()
    daemon, _ = await peers.daemon(token, machine, [peers.session_info("s")])
    assert (await peers.next_frame(daemon, "terminal.subscribe"))["session"] == "s"


@pytest.fixture
def bridge_settings(request: pytest.FixtureRequest) -> dict[str, float]:
    return {
        "IMCODES_BRIDGE_HEARTBEAT": 0.4 if "heartbeat" in request.node.name else 15.0,
        "IMCODES_BRIDGE_VIEWER_BYTES": 256 * 1024,
    }


async def test_a_slow_viewer_gets_a_reset_and_a_fresh_snapshot_not_unbounded_memory(peers, served) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine, [peers.session_info("s")])
    viewer, _ = await peers.browser(user, max_queue=1)
    await viewer.send(peers.frame("terminal.subscribe", machine=machine, session="s"))
    await peers.next_frame(daemon, "terminal.subscribe")
    (link,) = served.hub.browsers[user.id]
    chunk = b"x" * 65536
    peak = 0
    for _ in range(600):  # ~39 MB toward a viewer that reads nothing
        await daemon.send(encode_binary(BinaryKind.OUTPUT, "s", chunk))
        peak = max(peak, link.queued_bytes)
    asked = await peers.next_frame(daemon, "terminal.subscribe", within=10)
    assert asked["session"] == "s", "the server asks the daemon for a fresh snapshot"
    assert peak <= 256 * 1024 + 1024, f"the per-viewer queue stayed bounded (peak {peak} bytes)"
    await daemon.send(encode_binary(BinaryKind.SNAPSHOT, "s", b"fresh screen"))
    kinds = []
    async with asyncio.timeout(20):
        while True:
            frame = await _binary(viewer)
            kinds.append(frame.kind)
            if frame.kind == BinaryKind.SNAPSHOT:
                assert frame.payload == b"fresh screen"
                break
    assert BinaryKind.RESET in kinds
    assert kinds.index(BinaryKind.RESET) < len(kinds) - 1
    await daemon.send(encode_binary(BinaryKind.OUTPUT, "s", b"live again"))
    assert (await _binary(viewer)).payload == b"live again"


async def test_heartbeat_pings_a_quiet_daemon_and_closes_a_silent_one(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine)
    ping = await peers.next_frame(daemon, "ping", within=3)
    assert ping["type"] == "ping"
    await daemon.send(peers.frame("pong", t=ping["t"]))
    # then silence: two missed heartbeats close the link
    assert await _closed_code(daemon, within=5) == 4408


async def test_a_second_daemon_connection_replaces_the_first(peers, served) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    first, _ = await peers.daemon(token, machine)
    browser, _ = await peers.browser(user)
    second, _ = await peers.daemon(token, machine)
    assert await _closed_code(first) == 4409
    assert served.hub.daemon(machine) is not None
    await browser.send(peers.frame("terminal.resize", id="r", machine=machine, session="s", cols=80, rows=24))
    assert (await peers.next_frame(second, "terminal.resize"))["cols"] == 80
    statuses = [f["daemon_online"] for f in await _frames(peers, browser, "link.status", 0.3)]
    assert False not in statuses, "replacing the link never shows the machine offline"


async def _frames(peers, ws, kind: str, seconds: float) -> list[dict]:
    return [json.loads(raw) for raw in await peers.silent(ws, seconds) if isinstance(raw, str) and kind in raw]


async def test_disconnect_machine_closes_the_daemon_link_at_once(peers, served) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine)
    browser, _ = await peers.browser(user)
    await bridge.disconnect_machine(served.app, machine)
    assert await _closed_code(daemon) == 4401
    assert (await peers.next_frame(browser, "link.status"))["daemon_online"] is False
    assert served.hub.daemon(machine) is None
    await bridge.disconnect_machine(served.app, machine)  # idempotent
    await bridge.disconnect_machine(served.app, "m-unknown")


async def test_close_connections_ends_every_socket_at_once(peers, served) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine)
    browser, _ = await peers.browser(user)
    await bridge.close_connections(served.app)
    assert await _closed_code(daemon) == 1001
    assert await _closed_code(browser) == 1001
