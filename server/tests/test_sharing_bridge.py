"""Sharing over the bridge, end to end (real Hypercorn, real `websockets` daemon and browsers, shares made and revoked
through the HTTP routes): a viewer watches but every driving frame is forbidden; a participant types but cannot
start, stop or rename; a session-level share shows only that session; a revoke takes effect on open sockets at once;
non-owners' commands are audited without their text."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from imcodes_server.models_sharing import AuditEvent

from imcodes_core.protocol.binary import BinaryKind, decode_binary, encode_binary

pytestmark = pytest.mark.postgres


def _load_support() -> ModuleType:
    name = "imcodes_server_tests_sharing_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("sharing_support.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


support = _load_support()
_bridge = support.load_bridge_conftest()
bridge_settings = _bridge.bridge_settings
served = _bridge.served
peers = _bridge.peers

DRIVING = {
    "terminal.input": {"data": "rm -rf ~\r"},
    "terminal.resize": {"cols": 90, "rows": 30},
    "session.prompt": {"text": "delete everything"},
    "permission.answer": {"choice": "1"},
    "session.interrupt": {},
}
OWNER_ONLY = {
    "session.start": {"driver": "shell", "cwd": "/tmp", "label": "x"},
    "session.stop": {},
    "session.rename": {"label": "taken over"},
}


async def _setup(peers: Any, served: Any, sessions: tuple[str, ...] = ("s1",)) -> tuple[Any, ...]:
    owner = await peers.user("owner")
    guest = await peers.user("guest-bob")
    machine, token = await peers.machine(owner)
    daemon, _ = await peers.daemon(token, machine, [peers.session_info(name) for name in sessions])
    account = await support.Account.sign_in(served.origin, owner)
    return owner, guest, machine, daemon, account


def _command(peers: Any, kind: str, machine: str, session: str, fields: dict[str, Any], ref: str) -> str:
    body = {"machine": machine, **fields, "id": ref}
    if kind != "session.start":
        body["session"] = session
    return str(peers.frame(kind, **body))


async def _daemon_commands(peers: Any, daemon: Any, seconds: float = 0.4) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in await peers.silent(daemon, seconds) if isinstance(raw, str)]


async def test_viewer_watches_but_every_driving_frame_is_forbidden(peers, served) -> None:
    _, guest, machine, daemon, owner = await _setup(peers, served)
    await owner.share(machine, guest, "viewer")
    browser, listed = await peers.browser(guest)
    [entry] = listed["machines"]
    assert (entry["machine"], entry["role"], [s["name"] for s in entry["sessions"]]) == (machine, "viewer", ["s1"])

    await browser.send(peers.frame("terminal.subscribe", machine=machine, session="s1", id="sub"))
    assert (await peers.next_frame(daemon, "terminal.subscribe"))["session"] == "s1"
    await daemon.send(encode_binary(BinaryKind.SNAPSHOT, "s1", b"screen-for-viewer"))
    got = decode_binary(await browser.recv())
    assert (got.stream, got.payload) == (f"{machine}/s1", b"screen-for-viewer")
    await daemon.send(peers.frame("timeline.event", event=peers.event("s1", 1)))
    live = await peers.next_frame(browser, "timeline.event")
    assert (live["machine"], live["event"]["seq"]) == (machine, 1)
    await browser.send(peers.frame("timeline.replay", machine=machine, session="s1"))
    assert (await peers.next_frame(browser, "timeline.event"))["event"]["seq"] == 1
    assert (await peers.next_frame(browser, "timeline.replayed"))["last_seq"] == 1

    for kind, fields in {**DRIVING, **OWNER_ONLY}.items():
        await browser.send(_command(peers, kind, machine, "s1", fields, f"c-{kind}"))
        refused = await peers.next_frame(browser, "error")
        assert (refused["code"], refused["ref"]) == ("forbidden", f"c-{kind}"), refused
        assert "viewer" in refused["message"]
    assert [c["type"] for c in await _daemon_commands(peers, daemon)] == []  # nothing reached the machine


async def test_participant_types_but_cannot_start_stop_or_rename(peers, served) -> None:
    _, guest, machine, daemon, owner = await _setup(peers, served)
    await owner.share(machine, guest, "participant")
    browser, listed = await peers.browser(guest)
    assert listed["machines"][0]["role"] == "participant"

    for kind, fields in DRIVING.items():
        await browser.send(_command(peers, kind, machine, "s1", fields, f"c-{kind}"))
        command = await peers.next_frame(daemon, kind)
        assert command["session"] == "s1"
        await daemon.send(peers.frame("ack", ref=command["id"], ok=True))
        ack = await peers.next_frame(browser, "ack")
        assert (ack["ref"], ack["ok"]) == (f"c-{kind}", True)
    for kind, fields in OWNER_ONLY.items():
        await browser.send(_command(peers, kind, machine, "s1", fields, f"c-{kind}"))
        refused = await peers.next_frame(browser, "error")
        assert (refused["code"], refused["ref"]) == ("forbidden", f"c-{kind}")
        assert "owner" in refused["message"]
    assert await _daemon_commands(peers, daemon) == []


async def test_a_session_share_shows_only_that_session(peers, served) -> None:
    _, guest, machine, daemon, owner = await _setup(peers, served, ("s1", "s2"))
    await owner.share(machine, guest, "participant", session="s1")
    browser, listed = await peers.browser(guest)
    [entry] = listed["machines"]
    assert [s["name"] for s in entry["sessions"]] == ["s1"]

    await daemon.send(peers.frame("timeline.event", event=peers.event("s2", 1)))
    await daemon.send(peers.frame("session.updated", session=peers.session_info("s2", label="hidden")))
    await daemon.send(peers.frame("timeline.event", event=peers.event("s1", 1)))
    shown = await peers.next_frame(browser, "timeline.event")
    assert shown["event"]["session"] == "s1"  # s2's event (sent first) never came
    for kind in ("terminal.subscribe", "terminal.input", "timeline.replay"):
        fields = {"data": "x"} if kind == "terminal.input" else {}
        await browser.send(_command(peers, kind, machine, "s2", fields, f"c-{kind}"))
        refused = await peers.next_frame(browser, "error")
        assert (refused["code"], refused["message"]) == ("forbidden", "no such machine")
    assert not [raw for raw in await peers.silent(browser) if "s2" in str(raw)]
    await browser.send(_command(peers, "terminal.input", machine, "s1", {"data": "ok"}, "in-s1"))
    assert (await peers.next_frame(daemon, "terminal.input"))["session"] == "s1"


async def test_revoke_removes_access_at_once_on_open_sockets(peers, served) -> None:
    _, guest, machine, daemon, owner = await _setup(peers, served)
    share_id = await owner.share(machine, guest, "participant")
    browser, _ = await peers.browser(guest)
    await browser.send(peers.frame("terminal.subscribe", machine=machine, session="s1"))
    await peers.next_frame(daemon, "terminal.subscribe")
    await daemon.send(encode_binary(BinaryKind.OUTPUT, "s1", b"before"))
    assert decode_binary(await browser.recv()).payload == b"before"

    started = time.monotonic()
    response = await owner.call("POST", f"/api/shares/{share_id}/revoke")
    assert response.status_code == 200
    relisted = await peers.next_frame(browser, "machines", within=1.0)
    assert time.monotonic() - started < 1.0
    assert relisted["machines"] == []
    assert (machine, "s1") not in served.hub.subscribers or not any(
        link.user_id == guest.id for link in served.hub.subscribers[(machine, "s1")]
    )
    await daemon.send(encode_binary(BinaryKind.OUTPUT, "s1", b"after-revoke"))
    await daemon.send(peers.frame("timeline.event", event=peers.event("s1", 2)))
    assert await peers.silent(browser) == []
    await browser.send(_command(peers, "terminal.input", machine, "s1", {"data": "x"}, "late"))
    refused = await peers.next_frame(browser, "error")
    assert (refused["code"], refused["message"], refused["ref"]) == ("forbidden", "no such machine", "late")


async def test_audit_records_who_did_what_without_the_text(peers, served) -> None:
    _, guest, machine, daemon, owner = await _setup(peers, served)
    viewer = await peers.user("viewer-vic")
    await owner.share(machine, guest, "participant")
    await owner.share(machine, viewer, "viewer")
    typing, _ = await peers.browser(guest)
    watching, _ = await peers.browser(viewer)
    secret = "hunter2-typed-secret\r"
    await typing.send(_command(peers, "terminal.input", machine, "s1", {"data": secret}, "t1"))
    await peers.next_frame(daemon, "terminal.input")
    await typing.send(_command(peers, "session.prompt", machine, "s1", {"text": "prompt-secret-words"}, "t2"))
    await peers.next_frame(daemon, "session.prompt")
    await watching.send(_command(peers, "terminal.input", machine, "s1", {"data": "nope"}, "v1"))
    await peers.next_frame(watching, "error")
    # The owner's own commands are not audited.
    own, _ = await peers.browser(owner.user)
    await own.send(_command(peers, "terminal.input", machine, "s1", {"data": "owner"}, "o1"))
    await peers.next_frame(daemon, "terminal.input")

    response = await owner.call("GET", f"/api/audit?machine={machine}")
    assert response.status_code == 200
    assert "hunter2" not in response.text and "prompt-secret" not in response.text
    events = [
        (e["user"]["name"], e["type"], e["session"], e["allowed"], e["length"])
        for e in response.json()["events"]
        if not e["type"].startswith("share.")  # the owner's share.create rows (test_sharing_routes)
    ]
    assert events == [
        ("viewer-vic", "terminal.input", "s1", False, 4),
        ("guest-bob", "session.prompt", "s1", True, len("prompt-secret-words")),
        ("guest-bob", "terminal.input", "s1", True, len(secret)),
    ]
    stored = await AuditEvent.exclude(frame_type__startswith="share.").values_list("frame_type", "user_id", "role")
    assert sorted(stored) == sorted(
        [
            ("terminal.input", viewer.id, "viewer"),
            ("session.prompt", guest.id, "participant"),
            ("terminal.input", guest.id, "participant"),
        ]
    )
    guest_account = await support.Account.sign_in(served.origin, guest)
    assert (await guest_account.call("GET", f"/api/audit?machine={machine}")).status_code == 404
