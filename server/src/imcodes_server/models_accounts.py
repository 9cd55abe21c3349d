"""Invitations for more users and API keys for scripts. Only SHA-256 hashes of the secrets are stored.

The tables are created by `migrations/0006_invitations_api_keys.sql`; keep both in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from imcodes_server.models import User


class Invitation(Model):
    """A one-time link the owner hands to a new person; following it creates a non-owner account (see invitations)."""

    id = fields.IntField(primary_key=True)
    created_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="invitations_made", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    note = fields.CharField(max_length=120, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    used_at = fields.DatetimeField(null=True)
    used_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="invitation_used", on_delete=fields.SET_NULL, null=True
    )

    class Meta:
        table = "invitations"


class ApiKey(Model):
    """A scoped key a script sends as `Authorization: Bearer imk_...` (see api_keys for the scopes)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="api_keys", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=120)
    # The first characters of the key ("imk_AbCd"), so a person can tell keys apart; 24 bits, not a secret.
    prefix = fields.CharField(max_length=16)
    key_hash = fields.CharField(max_length=64, unique=True)
    # Comma-separated scope names, e.g. "read,sessions".
    scopes = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"

    def scope_set(self) -> set[str]:
        return {scope for scope in self.scopes.split(",") if scope}
