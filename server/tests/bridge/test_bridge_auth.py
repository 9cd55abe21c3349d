"""Who may connect and what they may touch: daemon tokens, browser tickets and Origin, other users' machines."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from imcodes_server import auth
from imcodes_server.models import WsTicket, hash_token, new_token
from quart.testing.connections import WebsocketDisconnectError
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.postgres


async def _closed_code(ws) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_daemon_without_or_with_a_bad_token_is_closed_4401(peers) -> None:
    for token in ("", "not-a-token"):
        ws = await peers.connect_daemon(token)
        assert await _closed_code(ws) == 4401


async def test_daemon_with_a_revoked_token_is_closed_4401(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    await auth.pair_machine(user, machine, "again")  # a fresh token: the old one stops working
    ws = await peers.connect_daemon(token)
    assert await _closed_code(ws) == 4401


async def test_hello_for_another_machine_is_an_error_and_4403(peers) -> None:
    user = await peers.user()
    _, token = await peers.machine(user)
    other, _ = await peers.machine(user)
    ws = await peers.connect_daemon(token)
    await ws.send(peers.frame("daemon.hello", machine=other))
    error = await peers.next_frame(ws, "error")
    assert error["code"] == "wrong_machine"
    assert await _closed_code(ws) == 4403


async def test_browser_refused_before_any_frame(peers, served) -> None:
    user = await peers.user()
    url = f"{served.ws_url}/ws/client"
    from websockets.asyncio.client import connect

    # no ticket, an unknown ticket, a good ticket from the wrong Origin, no Origin at all
    good = await auth.mint_ws_ticket(user)
    for suffix, origin in (
        ("", served.origin),
        ("?ticket=not-a-ticket", served.origin),
        (f"?ticket={good}", "http://evil.example"),
        (f"?ticket={await auth.mint_ws_ticket(user)}", None),
    ):
        with pytest.raises(InvalidStatus) as refused:
            await connect(url + suffix, origin=origin, proxy=None)
        assert refused.value.response.status_code == 403  # the handshake fails: no frame ever reaches it


async def test_expired_and_used_tickets_are_refused_with_4401(peers, served) -> None:
    user = await peers.user()
    expired = new_token()
    await WsTicket.create(user=user, ticket_hash=hash_token(expired), expires_at=auth.now() - timedelta(seconds=1))
    used = await auth.mint_ws_ticket(user)
    _browser, _ = await peers.browser(user)  # consumes a ticket of its own
    assert await auth.user_for_ticket(used) is not None  # first use
    client = served.app.test_client()
    for ticket in (expired, used):
        async with client.websocket(f"/ws/client?ticket={ticket}", headers={"Origin": served.origin}) as test_ws:
            with pytest.raises(WebsocketDisconnectError) as closed:
                await test_ws.receive()
            assert closed.value.args[0] == 4401
            assert not test_ws.accepted


async def test_another_users_machine_is_forbidden_for_every_frame_type(peers) -> None:
    owner = await peers.user()
    stranger = await peers.user("stranger")
    machine, token = await peers.machine(owner)
    daemon, _ = await peers.daemon(token, machine, [peers.session_info("s1")])
    ws, listing = await peers.browser(stranger)
    assert listing["machines"] == [], "a stranger sees none of the owner's machines"
    frames = [
        ("session.start", {"driver": "shell", "cwd": "/tmp"}),
        ("session.stop", {"session": "s1"}),
        ("session.rename", {"session": "s1", "label": "x"}),
        ("terminal.subscribe", {"session": "s1"}),
        ("terminal.unsubscribe", {"session": "s1"}),
        ("terminal.input", {"session": "s1", "data": "rm -rf /\r"}),
        ("terminal.resize", {"session": "s1", "cols": 80, "rows": 24}),
        ("timeline.replay", {"session": "s1"}),
    ]
    answers = {}
    for index, (kind, fields) in enumerate(frames):
        for target in (machine, "m-doesnotexist"):
            await ws.send(peers.frame(kind, id=f"x{index}-{target}", machine=target, **fields))
            error = await peers.next_frame(ws, "error")
            assert error["code"] == "forbidden", kind
            assert error["ref"] == f"x{index}-{target}"
            answers.setdefault(kind, set()).add(error["message"])
    assert all(len(messages) == 1 for messages in answers.values()), "unknown and foreign machines look the same"
    assert await peers.silent(daemon, 0.3) == [], "nothing of the stranger's reached the daemon"
    # the stranger's socket is still open and answers
    await ws.send(peers.frame("ping", t=1.0))
    assert (await peers.next_frame(ws, "pong"))["t"] == 1.0


async def test_malformed_oversized_and_unknown_frames_on_both_sockets(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine)
    browser, _ = await peers.browser(user)
    huge = json.dumps({"v": 1, "type": "terminal.input", "machine": machine, "session": "s", "data": "x" * 2_000_000})
    cases = [
        ("not json", "malformed"),
        ("[1, 2]", "malformed"),
        ('{"v": 2, "type": "ping"}', "bad_version"),
        ('{"v": 1, "type": "no.such.type", "id": "u1"}', "unknown_type"),
        (huge, "too_large"),
    ]
    invalid = {
        daemon: json.dumps({"v": 1, "type": "timeline.event", "event": {**peers.event("s", 1), "seq": 0}}),
        browser: '{"v": 1, "type": "terminal.resize", "machine": "m", "session": "s", "cols": 1, "rows": 1}',
    }
    for ws in (daemon, browser):
        for raw, code in [*cases, (invalid[ws], "invalid")]:
            await ws.send(raw)
            error = await peers.next_frame(ws, "error")
            assert error["code"] == code, raw[:40]
            assert "x" * 50 not in error["message"], "the payload is never echoed"
        await ws.send(b"\x09\x09garbage")  # binary junk
        assert (await peers.next_frame(ws, "error"))["code"] in ("bad_binary", "malformed")
        await ws.send(peers.frame("ping", t=2.0))
        assert (await peers.next_frame(ws, "pong"))["t"] == 2.0, "the socket stays open"
    # a frame type the peer may not send: daemon-only frames from a browser and browser commands from a daemon
    await browser.send(peers.frame("timeline.event", event=peers.event("s", 1)))
    assert (await peers.next_frame(browser, "error"))["code"] == "not_allowed"
    await daemon.send(peers.frame("session.start", id="d1", driver="shell"))
    assert (await peers.next_frame(daemon, "error"))["code"] == "not_allowed"
    assert await peers.silent(browser, 0.2) == [], "refused frames are never relayed"
