"""session.start's resume through the bridge: relayed to the daemon (live or from the durable queue), the
daemon's refusal reaches the browser word for word, and an id that could pass for a CLI flag never leaves the
server. tests/core/daemon/test_resume.py has the real daemon's side (the driver's own message)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.postgres

CONVERSATION = "e2d26fa1-6d70-4832-ae3b-de93bf04cf44"
QWEN_REFUSAL = "the qwen driver cannot resume a conversation yet (no recorded way to do it)"


async def test_resume_is_relayed_and_the_daemons_refusal_reaches_the_browser(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    daemon, _ = await peers.daemon(token, machine)
    browser, _ = await peers.browser(user)
    await browser.send(
        peers.frame("session.start", id="r-1", machine=machine, driver="qwen", cwd="/tmp", resume=CONVERSATION)
    )
    command = await peers.next_frame(daemon, "session.start")
    assert (command["driver"], command["resume"]) == ("qwen", CONVERSATION)
    await daemon.send(peers.frame("ack", ref=command["id"], ok=False, error=QWEN_REFUSAL))
    ack = await peers.next_frame(browser, "ack")
    assert (ack["ref"], ack["ok"], ack["error"]) == ("r-1", False, QWEN_REFUSAL)

    await browser.send(
        peers.frame("session.start", id="r-2", machine=machine, driver="claude", resume="--dangerously-skip")
    )
    error = await peers.next_frame(browser, "error")
    assert (error["code"], error["ref"]) == ("invalid", "r-2") and "resume" in error["message"]
    await browser.send(peers.frame("session.start", id="r-3", machine=machine, driver="shell", cwd="/tmp"))
    plain = await peers.next_frame(daemon, "session.start")  # the refused frame was never relayed
    assert plain["driver"] == "shell" and "resume" not in plain


async def test_a_queued_resume_reaches_the_daemon_when_it_comes_back(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    browser, _ = await peers.browser(user)
    await browser.send(
        peers.frame("session.start", id="q-1", machine=machine, driver="claude", cwd="/tmp", resume=CONVERSATION)
    )
    assert (await peers.next_frame(browser, "ack"))["result"] == {"queued": True}
    daemon, _ = await peers.daemon(token, machine)
    command = await peers.next_frame(daemon, "session.start")
    assert (command["driver"], command["resume"]) == ("claude", CONVERSATION)
