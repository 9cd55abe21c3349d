"""Passkeys (WebAuthn credentials) and the server-side challenges of their ceremonies.

Only public material is stored: a credential's id and public key are useless without the authenticator's private
key. Challenges are kept as hashes and deleted when used, so each one verifies at most one response.
The tables are created by `migrations/0005_passkeys.sql`; keep both in step.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from imcodes_server.models import User


class Passkey(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="passkeys", on_delete=fields.CASCADE
    )
    # base64url of the raw credential id (at most 1023 bytes by the spec, so at most 1364 characters).
    credential_id = fields.CharField(max_length=1400, unique=True)
    public_key = fields.TextField()  # base64url of the COSE key
    # The WebAuthn user.id this credential was made with; a sign-in's userHandle must match it.
    user_handle = fields.CharField(max_length=128)
    sign_count = fields.BigIntField(default=0)
    name = fields.CharField(max_length=120, default="")
    transports = fields.CharField(max_length=255, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "passkeys"


class PasskeyChallenge(Model):
    """One issued challenge: `register` (bound to the signed-in user) or `sign_in` (anyone), short-lived."""

    id = fields.IntField(primary_key=True)
    challenge_hash = fields.CharField(max_length=64, unique=True)
    purpose = fields.CharField(max_length=16)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="passkey_challenges", on_delete=fields.CASCADE, null=True
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "passkey_challenges"
