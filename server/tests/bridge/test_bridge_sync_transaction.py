"""`store.sync_sessions` is one transaction: a sessions.sync the database refuses half-way writes nothing.

The protocol model already refuses every session name the table could not store, so the failure is provoked with a
real CHECK constraint added to this test's own database (each test gets a fresh copy of the migrated template): the
second session of the list violates it after the first one was already upserted."""

from __future__ import annotations

from typing import Any

import pytest
from imcodes_server.bridge import store
from imcodes_server.bridge.models import StoredSession
from tortoise.exceptions import IntegrityError

from imcodes_core.protocol.frames import SessionInfo

pytestmark = pytest.mark.postgres

POISON = "poison-7q"


async def _refuse_poison(database: Any) -> None:
    conn = await database.connect()
    try:
        await conn.execute(f"ALTER TABLE bridge_sessions ADD CONSTRAINT no_poison CHECK (name <> '{POISON}')")
    finally:
        await conn.close()


async def _live_rows(machine: str) -> dict[str, str]:
    rows = await StoredSession.filter(machine_id=machine, removed_at__isnull=True)
    return {row.name: row.info["label"] for row in rows}


def _info(name: str, label: str) -> SessionInfo:
    return SessionInfo(name=name, driver="shell", label=label, cwd="/tmp", state="idle")


async def test_a_failing_sync_writes_nothing(peers, served, database) -> None:
    user = await peers.user()
    machine, _ = await peers.machine(user)
    assert await store.sync_sessions(machine, [_info("old-a", "first"), _info("old-b", "first")]) == []
    await _refuse_poison(database)

    with pytest.raises(IntegrityError, match="no_poison"):
        await store.sync_sessions(machine, [_info("old-a", "changed"), _info(POISON, "x"), _info("new-c", "x")])

    # old-a was upserted before the poison row failed: rolled back; old-b was not marked removed
    assert await _live_rows(machine) == {"old-a": "first", "old-b": "first"}
    assert await StoredSession.filter(machine_id=machine).count() == 2
    # the connection is usable afterwards and a good list still applies in full
    assert sorted(await store.sync_sessions(machine, [_info("new-c", "second")])) == ["old-a", "old-b"]
    assert await _live_rows(machine) == {"new-c": "second"}


async def test_a_daemon_whose_sync_fails_leaves_browsers_and_tables_as_they_were(peers, served, database) -> None:
    user = await peers.user()
    machine, token = await peers.machine(user)
    browser, _ = await peers.browser(user)
    daemon, _ = await peers.daemon(token, machine, [peers.session_info("keep-1"), peers.session_info("keep-2")])
    for _ in range(2):  # the first sync is stored, then announced
        await peers.next_frame(browser, "session.updated")
    await peers.silent(browser, 0.2)
    await _refuse_poison(database)

    bad = [peers.session_info("keep-1", label="changed"), peers.session_info(POISON), peers.session_info("new-3")]
    await daemon.send(peers.frame("sessions.sync", sessions=bad))
    error = await peers.next_frame(daemon, "error")
    assert error["code"] == "internal"
    assert await _live_rows(machine) == {"keep-1": "keep-1", "keep-2": "keep-2"}
    assert await peers.silent(browser, 0.3) == [], "browsers were told about a sync that was not stored"
    # the daemon link survives and its next, valid sync is stored in full
    await daemon.send(peers.frame("sessions.sync", sessions=[peers.session_info("new-3")]))
    await peers.next_frame(browser, "session.removed")
    assert await _live_rows(machine) == {"new-3": "new-3"}
