"""Prompts, permission answers and interrupts from the phone: relayed to the daemon with the server's own id and
the ack mapped back; volatile (an offline daemon is an error at once, never queued); owner only."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.postgres

FRAMES = {
    "session.prompt": {"session": "agent-1", "text": "fix the tests"},
    "permission.answer": {"session": "agent-1", "choice": "1"},
    "session.interrupt": {"session": "agent-1"},
}


async def test_agent_commands_are_relayed_and_answered(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine)
    browser, _ = await peers.browser(user)
    for n, (kind, fields) in enumerate(FRAMES.items()):
        await browser.send(peers.frame(kind, id=f"a-{n}", machine=machine, **fields))
        command = await peers.next_frame(daemon, kind)
        assert command["id"] != f"a-{n}" and "machine" not in command
        assert {k: command[k] for k in fields} == fields
        await daemon.send(peers.frame("ack", ref=command["id"], ok=n != 1, error=None if n != 1 else "busy"))
        ack = await peers.next_frame(browser, "ack")
        assert (ack["ref"], ack["ok"]) == (f"a-{n}", n != 1)
    await browser.send(peers.frame("session.prompt", id="big", machine=machine, session="s", text="x" * 70_000))
    error = await peers.next_frame(browser, "error")
    assert (error["code"], error["ref"]) == ("invalid", "big")
    assert await peers.silent(daemon, 0.3) == []


async def test_agent_commands_to_an_offline_daemon_fail_at_once(peers) -> None:
    user = await peers.user()
    machine, _ = await peers.machine(user)
    browser, _ = await peers.browser(user)
    for n, (kind, fields) in enumerate(FRAMES.items()):
        await browser.send(peers.frame(kind, id=f"o-{n}", machine=machine, **fields))
        error = await peers.next_frame(browser, "error")
        assert (error["code"], error["ref"]) == ("daemon_offline", f"o-{n}")


async def test_agent_commands_on_someone_elses_machine_are_forbidden(peers) -> None:
    owner = await peers.user()
    machine, token = await peers.machine(owner)
    daemon, _ = await peers.daemon(token, machine)
    stranger = await peers.user()
    browser, _ = await peers.browser(stranger)
    for n, (kind, fields) in enumerate(FRAMES.items()):
        await browser.send(peers.frame(kind, id=f"f-{n}", machine=machine, **fields))
        error = await peers.next_frame(browser, "error")
        assert (error["code"], error["ref"]) == ("forbidden", f"f-{n}")
    assert await peers.silent(daemon, 0.3) == []
