"""Every frame type a browser may send (the bridge's CLIENT_IN, so a new type is covered on its own) and every frame
type a daemon may send (DAEMON_IN), tried by every kind of stranger against a victim whose daemon is live: refused
before any data, or answered `forbidden` exactly as for a machine that does not exist; nothing of the victim's
(machine id, hostname, session names, labels, timeline text, terminal bytes) ever reaches the stranger, nothing of
the stranger's reaches the victim's daemon, browsers or tables. Real Hypercorn, real `websockets` clients."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from imcodes_server import auth
from imcodes_server.bridge.client_ws import CLIENT_IN
from imcodes_server.bridge.daemon_ws import DAEMON_IN
from imcodes_server.models import WebSession, WsTicket, hash_token, new_token
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from imcodes_core.protocol.binary import BinaryKind, encode_binary

pytestmark = pytest.mark.postgres


def _load_support() -> ModuleType:
    name = "imcodes_server_tests_ws_security_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("ws_security_support.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


support = _load_support()
_bridge = support.load_bridge_conftest()
bridge_settings = _bridge.bridge_settings  # re-exported fixtures: the real server and its peers
served = _bridge.served
peers = _bridge.peers

VICTIM_MACHINE = "m-vict1m42"
VICTIM_OFFLINE = "m-vict0ff9"
NOWHERE = "m-n0where7"
VICTIM_HOST = "victim-host-7k3q"
VICTIM_SESSION = "vsess-q8w1"
VICTIM_LABEL = "vlabel-p2z6"
TIMELINE_TEXT = "vtimeline-secret-5x1"
TERMINAL_TEXT = "vterm-secret-bytes-3j"
MARKERS = [VICTIM_MACHINE, VICTIM_OFFLINE, VICTIM_HOST, VICTIM_SESSION, VICTIM_LABEL, TIMELINE_TEXT, TERMINAL_TEXT]

BROWSER_TYPES = sorted(CLIENT_IN)
DAEMON_TYPES = sorted(DAEMON_IN)


def _browser_values(machine: str) -> dict[str, Any]:
    """Field values for a browser frame aimed at `machine`'s victim session (every field a browser frame has)."""
    return {
        "machine": machine,
        "session": VICTIM_SESSION,
        "name": VICTIM_SESSION,
        "driver": "shell",
        "cwd": "/tmp",
        "label": "renamed-by-stranger",
        "data": "echo stranger-was-here\r",
        "text": "stranger prompt",
        "choice": "1",
        "cols": 80,
        "rows": 24,
        "t": 7.0,
        "epoch": 0,
        "after_seq": 0,
        "limit": 100,
    }


def _daemon_values(session: str) -> dict[str, Any]:
    """Field values for a daemon frame about the victim's machine and session."""
    info = {"name": session, "driver": "shell", "label": "stranger-label", "cwd": "/", "state": "idle"}
    return {
        "machine": VICTIM_MACHINE,
        "session": session,
        "sessions": [info],
        "event": {"session": session, "epoch": 1, "seq": 9001, "at": 1.0, "kind": "output", "data": {"x": "s"}},
        "ref": "s00000000-1",
        "ok": False,
        "error": "stranger",
        "code": "stranger",
        "message": "stranger",
        "t": 7.0,
    }


def _daemon_frame(kind: str, session: str) -> dict[str, Any]:
    values = _daemon_values(session)
    if kind == "session.updated":
        values["session"] = values["sessions"][0]
    return support.sample_frame(kind, values, frame_id="stranger-1")


class Scene:
    """The victim (a live daemon with a session, timeline and terminal, a subscribed browser) and a stranger user."""

    def __init__(self, peers: Any, served: Any) -> None:
        self.peers = peers
        self.served = served

    async def build(self) -> Scene:
        peers = self.peers
        self.victim = await peers.user("victim-9zq")
        self.stranger = await peers.user("stranger")
        _, self.victim_token = await peers.machine(self.victim, VICTIM_MACHINE)
        await peers.machine(self.victim, VICTIM_OFFLINE)
        self.stranger_machine, self.stranger_token = await peers.machine(self.stranger, "m-str4nger")
        self.daemon = await peers.connect_daemon(self.victim_token)
        await self.daemon.send(
            peers.frame("daemon.hello", machine=VICTIM_MACHINE, hostname=VICTIM_HOST, drivers=[{"name": "shell"}])
        )
        await peers.next_frame(self.daemon, "hello.ok")
        info = peers.session_info(VICTIM_SESSION, label=VICTIM_LABEL)
        await self.daemon.send(peers.frame("sessions.sync", sessions=[info]))
        event = {**peers.event(VICTIM_SESSION, 1), "data": {"tail": TIMELINE_TEXT}}
        await self.daemon.send(peers.frame("timeline.event", event=event))
        self.browser, listing = await peers.browser(self.victim)
        assert VICTIM_MACHINE in json.dumps(listing)
        await self.browser.send(peers.frame("terminal.subscribe", machine=VICTIM_MACHINE, session=VICTIM_SESSION))
        await peers.next_frame(self.daemon, "terminal.subscribe")
        await self.daemon.send(encode_binary(BinaryKind.SNAPSHOT, VICTIM_SESSION, b"\x1b[H" + TERMINAL_TEXT.encode()))
        assert TERMINAL_TEXT.encode() in await self._next_binary(self.browser)
        await self.drain()
        return self

    async def _next_binary(self, ws: ClientConnection) -> bytes:
        async with asyncio.timeout(5):
            while True:
                raw = await ws.recv()
                if isinstance(raw, bytes):
                    return raw

    async def drain(self) -> None:
        for ws in (self.daemon, self.browser):
            await self.peers.silent(ws, 0.2)

    async def victim_activity(self) -> None:
        """The victim's daemon keeps talking while a stranger listens: nothing of it may reach the stranger."""
        peers = self.peers
        info = peers.session_info(VICTIM_SESSION, label=VICTIM_LABEL, state="busy")
        await self.daemon.send(peers.frame("session.updated", session=info))
        event = {**peers.event(VICTIM_SESSION, 2), "data": {"tail": TIMELINE_TEXT}}
        await self.daemon.send(peers.frame("timeline.event", event=event))
        await self.daemon.send(encode_binary(BinaryKind.OUTPUT, VICTIM_SESSION, TERMINAL_TEXT.encode()))

    async def victim_untouched(self, before: list[Any]) -> None:
        """Nothing a stranger did reached the victim's daemon or browser, or changed a bridge table."""
        assert await self.peers.silent(self.daemon, 0.3) == [], "a stranger's frame reached the victim's daemon"
        assert await self.peers.silent(self.browser, 0.1) == [], "a stranger's frame reached the victim's browser"
        assert await support.bridge_snapshot() == before, "a stranger changed the bridge's tables"


@pytest.fixture
async def scene(peers: Any, served: Any) -> Scene:
    return await Scene(peers, served).build()


# --- /ws/client: strangers without a valid ticket ----------------------------------------------------------------


async def _expired_ticket(scene: Scene) -> tuple[str, str | None]:
    ticket = await auth.mint_ws_ticket(scene.victim)
    await WsTicket.filter(ticket_hash=hash_token(ticket)).update(expires_at=auth.now() - timedelta(seconds=16))
    return f"?ticket={ticket}", scene.served.origin


async def _used_ticket(scene: Scene) -> tuple[str, str | None]:
    ticket = await auth.mint_ws_ticket(scene.victim)
    ws = await connect(f"{scene.served.ws_url}/ws/client?ticket={ticket}", origin=scene.served.origin, proxy=None)
    await ws.close()  # the victim's own use spends it
    return f"?ticket={ticket}", scene.served.origin


async def _no_credentials(scene: Scene) -> tuple[str, str | None]:
    return "", scene.served.origin


async def _garbage_ticket(scene: Scene) -> tuple[str, str | None]:
    return f"?ticket={new_token()}", scene.served.origin


async def _wrong_origin(scene: Scene) -> tuple[str, str | None]:
    return f"?ticket={await auth.mint_ws_ticket(scene.victim)}", "http://evil.example"


async def _revoked_session_ticket(scene: Scene) -> tuple[str, str | None]:
    """A ticket minted over HTTP by a browser session that the victim then revokes from the devices page."""
    origin = scene.served.origin
    doomed_token, doomed_csrf = await auth.start_web_session(scene.victim)
    keeper_token, keeper_csrf = await auth.start_web_session(scene.victim)
    async with httpx.AsyncClient(base_url=origin, trust_env=False) as http:
        minted = await http.post(
            "/api/ws-ticket",
            headers={
                "Cookie": f"{auth.SESSION_COOKIE}={doomed_token}; {auth.CSRF_COOKIE}={doomed_csrf}",
                "X-CSRF-Token": doomed_csrf,
                "Origin": origin,
            },
        )
        assert minted.status_code == 200, minted.text
        doomed_id = (await WebSession.get(token_hash=hash_token(doomed_token))).id
        revoked = await http.post(
            f"/api/devices/web/{doomed_id}/revoke",
            headers={
                "Cookie": f"{auth.SESSION_COOKIE}={keeper_token}; {auth.CSRF_COOKIE}={keeper_csrf}",
                "X-CSRF-Token": keeper_csrf,
                "Origin": origin,
            },
        )
        assert revoked.status_code == 200, revoked.text
    return f"?ticket={minted.json()['ticket']}", origin


TICKETLESS = {
    "no credentials": _no_credentials,
    "garbage ticket": _garbage_ticket,
    "expired ticket": _expired_ticket,
    "used ticket": _used_ticket,
    "wrong origin": _wrong_origin,
    "revoked browser session's ticket": _revoked_session_ticket,
}


@pytest.mark.parametrize("stranger", list(TICKETLESS))
async def test_browser_socket_refuses_strangers_before_any_data_for_every_frame_type(scene: Scene, stranger) -> None:
    before = await support.bridge_snapshot()
    for kind in BROWSER_TYPES:
        query, origin = await TICKETLESS[stranger](scene)
        frame = support.sample_frame(kind, _browser_values(VICTIM_MACHINE), frame_id="stranger-1")
        try:
            ws = await connect(f"{scene.served.ws_url}/ws/client{query}", origin=origin, proxy=None)  # type: ignore[arg-type]
        except InvalidStatus as refused:
            assert refused.response.status_code == 403, f"{stranger}/{kind}: {refused.response.status_code}"
            assert not refused.response.body or b"Traceback" not in refused.response.body
            assert support.leaked([refused.response.body or b""], MARKERS) == []
            continue
        got: list[str | bytes] = []
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(frame))
            await scene.victim_activity()
            got = await scene.peers.silent(ws, 0.3)
        await ws.close()
        raise AssertionError(f"{stranger} was let in ({kind}); got {len(got)} frames: {str(got)[:300]}")
    await scene.victim_activity()
    await scene.drain()
    after = await support.bridge_snapshot()
    assert [before[2]] == [after[2]], "no command was queued for the victim's machine"


# --- /ws/client: a signed-in other user ---------------------------------------------------------------------------


async def _answer(ws: ClientConnection, raw: str) -> str | None:
    """The one text frame the server answers `raw` with (None if it answers nothing within a short while)."""
    await ws.send(raw)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.5):
            while True:
                reply = await ws.recv()
                if isinstance(reply, bytes):
                    raise AssertionError(f"binary data for a stranger: {reply[:80]!r}")
                if json.loads(reply)["type"] != "ping":  # a server heartbeat is not an answer
                    return reply
    return None


async def test_signed_in_stranger_is_forbidden_for_every_frame_type_like_for_no_machine(scene: Scene) -> None:
    stranger, listing = await scene.peers.browser(scene.stranger)
    received: list[str | bytes] = [json.dumps(listing)]
    assert [m["machine"] for m in listing["machines"]] == [scene.stranger_machine]
    before = await support.bridge_snapshot()
    for kind in BROWSER_TYPES:
        for frame_id in ("probe-1", None):
            answers = {}
            for target in (VICTIM_MACHINE, VICTIM_OFFLINE, NOWHERE):
                raw = json.dumps(support.sample_frame(kind, _browser_values(target), frame_id=frame_id))
                answers[target] = await _answer(stranger, raw)
                received.append(answers[target] or "")
            if "machine" not in support.frame_models()[kind].model_fields:
                continue  # ping / pong address no machine: only the leak check below applies
            expected = answers[NOWHERE]
            assert expected is not None, f"{kind}: no answer for a machine that does not exist"
            error = json.loads(expected)
            assert error["type"] == "error" and error["code"] == "forbidden", f"{kind}: {expected}"
            assert error.get("ref") == frame_id, kind
            for target in (VICTIM_MACHINE, VICTIM_OFFLINE):
                assert answers[target] == expected, f"{kind} for {target} differs from an unknown machine's answer"
        await scene.victim_activity()
        received.extend(await scene.peers.silent(stranger, 0.1))
    received.extend(await scene.peers.silent(stranger, 0.3))
    assert support.leaked(received, MARKERS) == [], "the stranger received something of the victim's"
    await scene.drain()  # the victim's own activity, echoed to the victim's browser, is expected
    await scene.victim_untouched(await support.bridge_snapshot())
    after = await support.bridge_snapshot()
    assert before[2] == after[2], "no command was queued for the victim's machine"
    assert await _answer(stranger, json.dumps({"v": 1, "type": "ping", "t": 3.0})) is not None, "still usable"


# --- /ws/daemon: strangers without a valid token -----------------------------------------------------------------


async def _revoked_machine_token(scene: Scene) -> str:
    token = await auth.pair_machine(scene.victim, "m-vrevoked", "revoked-box")
    await auth.revoke_machine(await _machine("m-vrevoked"))
    return token


async def _machine(machine_id: str) -> Any:
    from imcodes_server.models import Machine

    return await Machine.get(id=machine_id)


async def _replaced_token(scene: Scene) -> str:
    """The victim's machine was paired again: its old token must stop working."""
    old = await auth.pair_machine(scene.victim, "m-vrepaired", "repaired-box")
    await auth.pair_machine(scene.victim, "m-vrepaired", "repaired-box")
    return old


async def _no_token(scene: Scene) -> str:
    return ""


async def _garbage_token(scene: Scene) -> str:
    return new_token()


TOKENLESS = {
    "no token": _no_token,
    "garbage token": _garbage_token,
    "revoked machine token": _revoked_machine_token,
    "replaced machine token": _replaced_token,
}


@pytest.mark.parametrize("stranger", list(TOKENLESS))
async def test_daemon_socket_refuses_strangers_before_any_data_for_every_frame_type(scene: Scene, stranger) -> None:
    token = await TOKENLESS[stranger](scene)
    before = await support.bridge_snapshot()
    for kind in ["daemon.hello", *DAEMON_TYPES]:
        ws = await scene.peers.connect_daemon(token)
        got: list[str | bytes] = []
        with pytest.raises(ConnectionClosed) as closed:
            hello = {"v": 1, "type": "daemon.hello", "machine": VICTIM_MACHINE, "hostname": "x"}
            await ws.send(json.dumps(hello))
            await ws.send(json.dumps(_daemon_frame(kind, VICTIM_SESSION) if kind != "daemon.hello" else hello))
            await ws.send(encode_binary(BinaryKind.OUTPUT, VICTIM_SESSION, b"stranger bytes"))
            while True:
                got.append(await ws.recv())
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401, f"{stranger}/{kind}"
        assert got == [], f"{stranger}/{kind} received data before the close"
    await scene.victim_untouched(before)
    assert VICTIM_MACHINE in scene.served.hub.daemons, "the victim's daemon link was not disturbed"


# --- /ws/daemon: a valid token for machine A talking about machine B ---------------------------------------------


async def test_a_daemon_cannot_touch_another_machines_sessions_timeline_or_commands(scene: Scene) -> None:
    peers = scene.peers
    attacker_browser, _ = await peers.browser(scene.stranger)
    # hello naming the victim's machine: refused and closed
    ws = await peers.connect_daemon(scene.stranger_token)
    await ws.send(peers.frame("daemon.hello", machine=VICTIM_MACHINE))
    assert (await peers.next_frame(ws, "error"))["code"] == "wrong_machine"
    with pytest.raises(ConnectionClosed):
        await peers.next_frame(ws)
    # a properly linked attacker daemon talks about the victim's session, naming the victim's machine
    attacker, _ = await peers.daemon(scene.stranger_token, scene.stranger_machine)
    await peers.silent(attacker_browser, 0.3)
    # a victim command is in flight: the attacker daemon will try to answer it in the victim daemon's place
    await scene.browser.send(
        peers.frame("session.rename", id="v-cmd-1", machine=VICTIM_MACHINE, session=VICTIM_SESSION, label="kept")
    )
    command = await peers.next_frame(scene.daemon, "session.rename")
    before = await support.bridge_snapshot()
    for kind in DAEMON_TYPES:
        body = _daemon_frame(kind, VICTIM_SESSION)
        if kind == "ack":
            body = {**body, "ref": command["id"], "ok": False, "error": "forged by another machine"}
        await attacker.send(json.dumps(body))
    await attacker.send(encode_binary(BinaryKind.OUTPUT, VICTIM_SESSION, b"forged-terminal-bytes"))
    await attacker.send(encode_binary(BinaryKind.OUTPUT, f"{VICTIM_MACHINE}/{VICTIM_SESSION}", b"forged-bytes-2"))
    await attacker.send(peers.frame("ping", t=5.0))
    while (await peers.next_frame(attacker, "pong"))["t"] != 5.0:  # the matrix's own ping is answered first
        pass
    assert await peers.silent(scene.browser, 0.4) == [], "the attacker's frames reached the victim's browser"
    after = await support.bridge_snapshot()
    victim_after = [[r for r in table if r.get("machine_id") != scene.stranger_machine] for table in after]
    victim_before = [[r for r in table if r.get("machine_id") != scene.stranger_machine] for table in before]
    assert victim_after == victim_before, "the attacker changed the victim's sessions, timeline or queue"
    # what the attacker's own browser saw is filed under the attacker's machine, never the victim's
    seen = await peers.silent(attacker_browser, 0.3)
    for raw in seen:
        if isinstance(raw, str):
            assert json.loads(raw).get("machine") in (None, scene.stranger_machine), raw[:200]
    assert support.leaked(seen, [VICTIM_MACHINE, VICTIM_HOST, VICTIM_LABEL, TIMELINE_TEXT, TERMINAL_TEXT]) == []
    # the real daemon's ack still reaches the victim's browser, once, with the browser's own id
    await scene.daemon.send(peers.frame("ack", ref=command["id"], ok=True))
    ack = await peers.next_frame(scene.browser, "ack")
    assert ack["ref"] == "v-cmd-1" and ack["ok"] is True
