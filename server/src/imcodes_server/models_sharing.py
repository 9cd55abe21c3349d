"""Sharing a machine (or one of its sessions) with another user, and the audit trail of what non-owners did.

The tables are created by `migrations/0008_sharing.sql`; keep both in step (server/tests/test_schema_drift.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from imcodes_server.models import Machine, User


class Share(Model):
    """The owner lets `grantee` see (viewer) or also drive (participant) a machine, or one session of it.

    `session` None: the whole machine. Revoking stamps `revoked_at`; the row stays so the owner can see the history.
    """

    id = fields.IntField(primary_key=True)
    machine: fields.ForeignKeyRelation[Machine] = fields.ForeignKeyField(
        "models.Machine", related_name="shares", on_delete=fields.CASCADE
    )
    session = fields.CharField(max_length=128, null=True)
    grantee: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="shares_received", on_delete=fields.CASCADE
    )
    created_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="shares_made", on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "shares"


class AuditEvent(Model):
    """One command a non-owner sent to a machine: who, where, which frame type, when. Never what was typed: only
    its length (`text_length`), so the trail itself cannot leak a password typed into a shared terminal. The owner
    making or revoking a share is recorded here too (`frame_type` share.create / share.revoke, `role` the share's
    role, `detail` the grantee)."""

    id = fields.BigIntField(primary_key=True)
    machine: fields.ForeignKeyRelation[Machine] = fields.ForeignKeyField(
        "models.Machine", related_name="audit_events", on_delete=fields.CASCADE
    )
    session = fields.CharField(max_length=128, null=True)
    # SET NULL: the trail outlives the account; `user_name` keeps who it was.
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="audit_events", on_delete=fields.SET_NULL, null=True
    )
    user_name = fields.CharField(max_length=120)
    role = fields.CharField(max_length=16)
    frame_type = fields.CharField(max_length=64)
    allowed = fields.BooleanField()
    text_length = fields.IntField(null=True)
    # For share.create / share.revoke rows (migration 0009): whom the share names, e.g. "bob (#2)".
    detail = fields.CharField(max_length=200, null=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_events"
