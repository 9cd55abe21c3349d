"""Sessions and the timeline: hello.ok's persisted positions, sync, live relay to the owner, replay with no gap and
no duplicate across a daemon reconnect that resends what was already stored."""

from __future__ import annotations

import pytest
from imcodes_server.bridge.models import StoredSession, TimelineRecord

pytestmark = pytest.mark.postgres


async def test_machines_frame_sessions_sync_and_link_status(peers) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    browser, listing = await peers.browser(user)
    assert listing["machines"] == [
        {
            "machine": machine,
            "hostname": f"host-{machine}",
            "online": False,
            "role": "owner",
            "drivers": [],
            "sessions": [],
        }
    ]
    daemon, ok = await peers.daemon(token, machine, [peers.session_info("a"), peers.session_info("b")])
    assert ok["persisted"] == {}
    assert (await peers.next_frame(browser, "link.status")) == {
        "v": 1,
        "type": "link.status",
        "machine": machine,
        "daemon_online": True,
    }
    updated = [await peers.next_frame(browser, "session.updated") for _ in range(2)]
    assert {u["session"]["name"] for u in updated} == {"a", "b"}
    assert all(u["machine"] == machine for u in updated)

    # a new browser sees the machine online with its drivers and sessions
    _, listing = await peers.browser(user)
    (info,) = listing["machines"]
    assert info["online"] is True and info["hostname"] == "devbox"
    assert [d["name"] for d in info["drivers"]] == ["shell"]
    assert [s["name"] for s in info["sessions"]] == ["a", "b"]

    # a later sync without "a" marks it removed; updates and removals are relayed
    await daemon.send(peers.frame("sessions.sync", sessions=[peers.session_info("b", state="working")]))
    assert (await peers.next_frame(browser, "session.removed"))["session"] == "a"
    await daemon.send(peers.frame("session.updated", session=peers.session_info("c")))
    assert (await peers.next_frame(browser, "session.updated"))["session"]["name"] == "c"
    await daemon.send(peers.frame("session.removed", session="b"))
    assert (await peers.next_frame(browser, "session.removed")) == {
        "v": 1,
        "type": "session.removed",
        "session": "b",
        "machine": machine,
    }
    live = await StoredSession.filter(machine_id=machine, removed_at__isnull=True).values_list("name", flat=True)
    assert live == ["c"]

    await daemon.close()
    assert (await peers.next_frame(browser, "link.status"))["daemon_online"] is False


async def test_events_persisted_once_and_replayed_without_gap_across_a_daemon_reconnect(peers) -> None:
    user = await peers.user()
    stranger = await peers.user("stranger")
    machine, token = await peers.machine(user)
    browser, _ = await peers.browser(user)
    other, _ = await peers.browser(stranger)
    daemon, ok = await peers.daemon(token, machine, [peers.session_info("s")])
    for seq in range(1, 6):
        await daemon.send(peers.frame("timeline.event", event=peers.event("s", seq)))
    live = [await peers.next_frame(browser, "timeline.event") for _ in range(5)]
    assert [(e["machine"], e["event"]["seq"]) for e in live] == [(machine, n) for n in range(1, 6)]
    assert await peers.silent(other, 0.2) == [], "another user's browser hears nothing"
    await daemon.close()

    # the daemon comes back, learns what is stored, and resends from its journal with an overlap
    daemon, ok = await peers.daemon(token, machine, [peers.session_info("s")])
    assert ok["persisted"] == {"s": [1, 5]}
    for seq in range(4, 9):
        await daemon.send(peers.frame("timeline.event", event=peers.event("s", seq)))
    await daemon.send(peers.frame("timeline.event", event=peers.event("s", 1, epoch=2)))  # journal lost: new epoch
    relayed = []
    while len(relayed) < 4:
        relayed.append((await peers.next_frame(browser, "timeline.event"))["event"])
    assert [(e["epoch"], e["seq"]) for e in relayed] == [(1, 6), (1, 7), (1, 8), (2, 1)], "duplicates not relayed"
    rows = (
        await TimelineRecord.filter(machine_id=machine, session="s")
        .order_by("epoch", "seq")
        .values_list("epoch", "seq")
    )
    assert rows == [(1, n) for n in range(1, 9)] + [(2, 1)]

    # replay from the start, paged
    await browser.send(peers.frame("timeline.replay", machine=machine, session="s", epoch=0, after_seq=0, limit=4))
    page = [(await peers.next_frame(browser, "timeline.event"))["event"] for _ in range(4)]
    done = await peers.next_frame(browser, "timeline.replayed")
    assert [e["seq"] for e in page] == [1, 2, 3, 4]
    assert page[0]["data"] == {"n": 1} and page[0]["kind"] == "output"
    assert (done["epoch"], done["last_seq"], done["more"]) == (1, 4, True)
    await browser.send(peers.frame("timeline.replay", machine=machine, session="s", epoch=1, after_seq=4, limit=10))
    rest = [(await peers.next_frame(browser, "timeline.event"))["event"] for _ in range(5)]
    done = await peers.next_frame(browser, "timeline.replayed")
    assert [(e["epoch"], e["seq"]) for e in rest] == [(1, 5), (1, 6), (1, 7), (1, 8), (2, 1)]
    assert (done["epoch"], done["last_seq"], done["more"]) == (2, 1, False)
    # nothing after the end
    await browser.send(peers.frame("timeline.replay", machine=machine, session="s", epoch=2, after_seq=1))
    done = await peers.next_frame(browser)
    assert done["type"] == "timeline.replayed" and (done["last_seq"], done["more"]) == (1, False)
