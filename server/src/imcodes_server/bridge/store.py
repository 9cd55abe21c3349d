"""The bridge's database work: sessions per machine, the timeline (insert once, replay by seq), the command queue."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from tortoise import connections
from tortoise.transactions import in_transaction

from imcodes_core.protocol.frames import DriverInfo, MachineInfo, SessionInfo, TimelineEvent
from imcodes_server.bridge.models import QueuedCommand, StoredSession
from imcodes_server.models import Machine

_logger = logging.getLogger("imcodes.server.bridge")


def _now() -> datetime:
    return datetime.now(UTC)


def _db() -> Any:
    return connections.get("default")


async def persisted_positions(machine: str) -> dict[str, list[int]]:
    """session -> [epoch, seq] of the last stored event: what the daemon need not resend."""
    _, rows = await _db().execute_query(
        "SELECT DISTINCT ON (session) session, epoch, seq FROM bridge_timeline WHERE machine_id = $1 "
        "ORDER BY session, epoch DESC, seq DESC",
        [machine],
    )
    return {row["session"]: [int(row["epoch"]), int(row["seq"])] for row in rows}


async def insert_event(machine: str, event: TimelineEvent) -> bool:
    """Store one event; False when (machine, session, epoch, seq) was already stored (a resend)."""
    # execute_query_dict: RETURNING rows come back (execute_query reports INSERT's OID, not its row count)
    rows = await _db().execute_query_dict(
        "INSERT INTO bridge_timeline (machine_id, session, epoch, seq, at, kind, data) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT DO NOTHING RETURNING id",
        [machine, event.session, event.epoch, event.seq, event.at, event.kind, json.dumps(event.data)],
    )
    return bool(rows)


async def replay(
    machine: str, session: str, epoch: int, after_seq: int, limit: int
) -> tuple[list[TimelineEvent], bool]:
    """Events after (epoch, after_seq) in order, at most `limit`; and whether more remain."""
    _, rows = await _db().execute_query(
        "SELECT session, epoch, seq, at, kind, data FROM bridge_timeline "
        "WHERE machine_id = $1 AND session = $2 AND (epoch > $3 OR (epoch = $3 AND seq > $4)) "
        "ORDER BY epoch, seq LIMIT $5",
        [machine, session, epoch, after_seq, limit + 1],
    )
    events: list[TimelineEvent] = []
    for row in rows[:limit]:
        data = row["data"]
        events.append(
            TimelineEvent(
                session=row["session"],
                epoch=row["epoch"],
                seq=row["seq"],
                at=row["at"],
                kind=row["kind"],
                data=json.loads(data) if isinstance(data, str) else data,
            )
        )
    return events, len(rows) > limit


async def upsert_session(machine: str, info: SessionInfo, db: Any = None) -> None:
    await (db or _db()).execute_query(
        "INSERT INTO bridge_sessions (machine_id, name, info, updated_at, removed_at) "
        "VALUES ($1, $2, $3::jsonb, now(), NULL) ON CONFLICT (machine_id, name) "
        "DO UPDATE SET info = EXCLUDED.info, updated_at = now(), removed_at = NULL",
        [machine, info.name, info.model_dump_json()],
    )


async def sync_sessions(machine: str, sessions: list[SessionInfo]) -> list[str]:
    """Store the daemon's full list; every other live session of the machine is marked removed (returned).

    One transaction: a list that fails half-way (a row the database refuses) changes nothing, so browsers never see
    a machine whose sessions are partly the old list and partly the new one."""
    async with in_transaction() as db:
        for info in sessions:
            await upsert_session(machine, info, db)
        names = [info.name for info in sessions]
        rows = await db.execute_query_dict(
            "UPDATE bridge_sessions SET removed_at = now() "
            "WHERE machine_id = $1 AND removed_at IS NULL AND NOT (name = ANY($2::text[])) RETURNING name",
            [machine, names],
        )
    return [row["name"] for row in rows]


async def remove_session(machine: str, name: str) -> bool:
    count = await StoredSession.filter(machine_id=machine, name=name, removed_at__isnull=True).update(
        removed_at=_now()
    )
    return bool(count)


async def owns_machine(user_id: int, machine: str) -> bool:
    return await Machine.filter(id=machine, owner_id=user_id, revoked_at__isnull=True).exists()


async def touch_machine(machine: str, hostname: str | None = None) -> None:
    if hostname:
        await Machine.filter(id=machine).update(last_seen=_now(), hostname=hostname[:255])
    else:
        await Machine.filter(id=machine).update(last_seen=_now())


async def machines_for_user(user_id: int, online: dict[str, list[dict[str, Any]]]) -> list[MachineInfo]:
    """The user's machines with their live sessions; `online` maps a linked machine to its daemon's drivers."""
    machines = await Machine.filter(owner_id=user_id, revoked_at__isnull=True).order_by("created_at")
    stored = await StoredSession.filter(machine_id__in=[m.id for m in machines], removed_at__isnull=True).order_by(
        "id"
    )
    by_machine: dict[str, list[SessionInfo]] = {}
    for row in stored:
        try:
            by_machine.setdefault(row.machine_id, []).append(SessionInfo.model_validate(row.info))  # type: ignore[attr-defined]
        except ValidationError:
            _logger.warning("stored session %s of %s no longer validates; left out", row.name, row.machine_id)  # type: ignore[attr-defined]
    result: list[MachineInfo] = []
    for machine in machines:
        drivers = online.get(machine.id)
        try:
            result.append(
                MachineInfo(
                    machine=machine.id,
                    hostname=machine.hostname,
                    online=drivers is not None,
                    drivers=[DriverInfo.model_validate(d) for d in drivers or []],
                    sessions=by_machine.get(machine.id, []),
                )
            )
        except ValidationError:
            _logger.warning("machine %r cannot be described to browsers; left out", machine.id)
    return result


async def enqueue_command(machine: str, user_id: int, client_ref: str, frame: dict[str, Any]) -> int:
    row = await QueuedCommand.create(machine_id=machine, user_id=user_id, client_ref=client_ref, frame=frame)
    return int(row.id)


async def queued_answer(user_id: int, client_ref: str) -> dict[str, Any] | None:
    """For a browser resending a durable command: the stored answer, or {'queued': True} while undelivered."""
    row = await QueuedCommand.filter(user_id=user_id, client_ref=client_ref).first()
    if row is None:
        return None
    if row.answer is not None:
        return dict(row.answer)
    return {"type": "ack", "ref": client_ref, "ok": True, "result": {"queued": True}}


async def undelivered(machine: str) -> list[QueuedCommand]:
    return await QueuedCommand.filter(machine_id=machine, delivered_at__isnull=True).order_by("id")


async def mark_delivered(row_id: int, answer: dict[str, Any]) -> None:
    await QueuedCommand.filter(id=row_id).update(delivered_at=_now(), answer=answer)
