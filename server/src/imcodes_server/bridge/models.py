"""The bridge's tables: sessions each machine reported, the persisted timeline, and the durable command queue.

Created by `migrations/0002_bridge.sql`; keep both in step (server/tests/test_schema_drift.py checks it).
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from imcodes_server.models import Machine, User


class StoredSession(Model):
    """The last SessionInfo a daemon reported for one of its sessions; `removed_at` once it is gone."""

    id = fields.BigIntField(primary_key=True)
    machine: fields.ForeignKeyRelation[Machine] = fields.ForeignKeyField(
        "models.Machine", related_name="bridge_sessions", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=128)
    info: Any = fields.JSONField()
    updated_at = fields.DatetimeField(auto_now=True)
    removed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "bridge_sessions"
        unique_together = (("machine", "name"),)


class TimelineRecord(Model):
    """One timeline event; unique on (machine, session, epoch, seq) so a resent event is stored once."""

    id = fields.BigIntField(primary_key=True)
    machine: fields.ForeignKeyRelation[Machine] = fields.ForeignKeyField(
        "models.Machine", related_name="timeline_events", on_delete=fields.CASCADE
    )
    session = fields.CharField(max_length=128)
    epoch = fields.IntField()
    seq = fields.BigIntField()
    at = fields.FloatField()
    kind = fields.CharField(max_length=64)
    data: Any = fields.JSONField()

    class Meta:
        table = "bridge_timeline"
        unique_together = (("machine", "session", "epoch", "seq"),)


class QueuedCommand(Model):
    """A durable command (session.start/stop/rename) a browser sent; delivered in `id` order when the daemon is up.

    `client_ref` is the browser's own id, so a browser resending it after a reconnect is answered, not re-run.
    """

    id = fields.BigIntField(primary_key=True)
    machine: fields.ForeignKeyRelation[Machine] = fields.ForeignKeyField(
        "models.Machine", related_name="queued_commands", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="queued_commands", on_delete=fields.CASCADE
    )
    client_ref = fields.CharField(max_length=64)
    frame: Any = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)
    delivered_at = fields.DatetimeField(null=True)
    answer: Any = fields.JSONField(null=True)

    class Meta:
        table = "bridge_command_queue"
        unique_together = (("user", "client_ref"),)
