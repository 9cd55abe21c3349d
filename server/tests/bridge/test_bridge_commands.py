"""Commands: the server's own id toward the daemon and the ack mapped back, dedupe of a resent id, retries, the
durable queue for an offline daemon delivered in order on reconnect, volatile commands refused when offline."""

from __future__ import annotations

import asyncio

import pytest
from imcodes_server.bridge.models import QueuedCommand

pytestmark = pytest.mark.postgres


async def test_ack_is_mapped_back_to_the_browsers_id(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine)
    browser, _ = await peers.browser(user)
    await browser.send(peers.frame("session.start", id="b-1", machine=machine, driver="shell", cwd="/tmp", label="x"))
    command = await peers.next_frame(daemon, "session.start")
    assert command["id"] != "b-1" and "machine" not in command
    assert (command["driver"], command["cwd"], command["label"]) == ("shell", "/tmp", "x")
    info = peers.session_info("shell-1")
    await daemon.send(peers.frame("ack", ref=command["id"], ok=True, result={"session": info}))
    ack = await peers.next_frame(browser, "ack")
    assert ack == {"v": 1, "type": "ack", "ref": "b-1", "ok": True, "result": {"session": info}}

    await browser.send(peers.frame("session.rename", id="b-2", machine=machine, session="nope", label="y"))
    command = await peers.next_frame(daemon, "session.rename")
    await daemon.send(peers.frame("ack", ref=command["id"], ok=False, error="no such session"))
    ack = await peers.next_frame(browser, "ack")
    assert (ack["ref"], ack["ok"], ack["error"]) == ("b-2", False, "no such session")


async def test_a_resent_id_starts_nothing_twice(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine)
    first, _ = await peers.browser(user)
    start = peers.frame("session.start", id="dup-1", machine=machine, driver="shell", cwd="/tmp")
    await first.send(start)
    command = await peers.next_frame(daemon, "session.start")
    # the browser reconnects before the answer and resends the same id: the daemon is not asked again ...
    await first.close()
    second, _ = await peers.browser(user)
    await second.send(start)
    assert await peers.silent(daemon, 0.3) == []
    # ... and the answer goes to the new connection
    await daemon.send(peers.frame("ack", ref=command["id"], ok=True, result={"n": 1}))
    assert (await peers.next_frame(second, "ack"))["result"] == {"n": 1}
    # resent once more after the answer: answered from memory
    await second.send(start)
    assert (await peers.next_frame(second, "ack"))["result"] == {"n": 1}
    assert await peers.silent(daemon, 0.3) == []


@pytest.fixture
def bridge_settings(request: pytest.FixtureRequest) -> dict[str, float]:
    fast_retries = "retried" in request.node.name
    return {
        "IMCODES_BRIDGE_RETRY_INTERVAL": 0.3 if fast_retries else 8.0,
        "IMCODES_BRIDGE_MAX_RETRIES": 2 if fast_retries else 5,
        "IMCODES_BRIDGE_HEARTBEAT": 15.0,
    }


async def test_unacked_commands_are_retried_with_the_same_id_then_time_out(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine)
    browser, _ = await peers.browser(user)
    await browser.send(peers.frame("terminal.input", id="k-1", machine=machine, session="s", data="ls\r"))
    sent = [await peers.next_frame(daemon, "terminal.input", within=3) for _ in range(3)]  # first + 2 retries
    assert len({c["id"] for c in sent}) == 1 and sent[0]["data"] == "ls\r"
    error = await peers.next_frame(browser, "error", within=3)
    assert (error["code"], error["ref"]) == ("daemon_timeout", "k-1")


async def test_durable_commands_wait_for_an_offline_daemon_volatile_ones_fail(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    browser, _ = await peers.browser(user)
    await browser.send(
        peers.frame("session.start", id="q-1", machine=machine, driver="shell", cwd="/tmp", label="one")
    )
    assert await peers.next_frame(browser, "ack") == {
        "v": 1,
        "type": "ack",
        "ref": "q-1",
        "ok": True,
        "result": {"queued": True},
    }
    await browser.send(peers.frame("session.stop", id="q-2", machine=machine, session="old"))
    assert (await peers.next_frame(browser, "ack"))["result"] == {"queued": True}
    await browser.send(peers.frame("terminal.input", id="v-1", machine=machine, session="old", data="x"))
    error = await peers.next_frame(browser, "error")
    assert (error["code"], error["ref"]) == ("daemon_offline", "v-1")
    # a resend of a queued id is answered "queued" again, not queued twice
    await browser.send(peers.frame("session.start", id="q-1", machine=machine, driver="shell", cwd="/tmp"))
    assert (await peers.next_frame(browser, "ack"))["result"] == {"queued": True}
    assert await QueuedCommand.filter(machine_id=machine).count() == 2

    daemon, _ = await peers.daemon(token, machine)
    first = await peers.next_frame(daemon, "session.start")
    second = await peers.next_frame(daemon, "session.stop")
    assert first["label"] == "one" and second["session"] == "old"
    await daemon.send(peers.frame("ack", ref=first["id"], ok=True, result={"session": peers.session_info("one")}))
    await daemon.send(peers.frame("ack", ref=second["id"], ok=True))
    for _ in range(50):
        if await QueuedCommand.filter(machine_id=machine, delivered_at__isnull=True).count() == 0:
            break
        await asyncio.sleep(0.05)
    assert await QueuedCommand.filter(machine_id=machine, delivered_at__isnull=True).count() == 0
    # after delivery a resend of the id gets the daemon's real answer
    await browser.send(peers.frame("session.start", id="q-1", machine=machine, driver="shell", cwd="/tmp"))
    ack = await peers.next_frame(browser, "ack")
    assert ack["ref"] == "q-1" and ack["result"]["session"]["name"] == "one"
    # a second reconnect delivers nothing again
    await daemon.close()
    daemon, _ = await peers.daemon(token, machine)
    assert await peers.silent(daemon, 0.3) == []
