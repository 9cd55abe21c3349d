"""Server-side accounts, sign-in and machine pairing. Secrets are never stored: only their SHA-256 hashes.

The tables are created by the SQL migrations in `migrations/`; keep both in step.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from imcodes_server.models_accounts import ApiKey


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class User(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=120)
    is_owner = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "owner": self.is_owner}


class WebSession(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="web_sessions", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    # For the devices page: when this browser last made a request (updated at most once a minute) and what it is.
    last_used_at = fields.DatetimeField(null=True)
    user_agent = fields.CharField(max_length=255, default="")

    class Meta:
        table = "web_sessions"


class LoginLink(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="login_links", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "login_links"


class Machine(Model):
    id = fields.CharField(max_length=128, primary_key=True)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="machines", on_delete=fields.CASCADE
    )
    hostname = fields.CharField(max_length=255, default="")
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    last_seen = fields.DatetimeField(null=True)

    class Meta:
        table = "machines"


class WsTicket(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="ws_tickets", on_delete=fields.CASCADE
    )
    ticket_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    # The credential that minted the ticket (both None: minted by the server itself, e.g. in tests). A ticket is
    # refused once that browser session ended or that key was revoked; the socket it opens remembers the origin
    # so revoking it closes the socket too (migration 0007).
    web_session: fields.ForeignKeyNullableRelation[WebSession] = fields.ForeignKeyField(
        "models.WebSession", related_name="ws_tickets", on_delete=fields.CASCADE, null=True
    )
    api_key: fields.ForeignKeyNullableRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name="ws_tickets", on_delete=fields.CASCADE, null=True
    )

    class Meta:
        table = "ws_tickets"


class AuthFailure(Model):
    """One failed (or in-flight) credential check in a rate-limit bucket such as `totp:ip:1.2.3.4`; see ratelimit."""

    id = fields.BigIntField(primary_key=True)
    bucket = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "auth_failures"


class PendingSignIn(Model):
    """A followed sign-in link whose user still owes a second factor; only the cookie token's hash is stored."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="pending_sign_ins", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    user_agent = fields.CharField(max_length=255, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "pending_sign_ins"


class TotpCredential(Model):
    """The user's TOTP seed, encrypted with a key derived from the server secret; confirmed once a code matched."""

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="totp", on_delete=fields.CASCADE
    )
    secret_encrypted = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    confirmed_at = fields.DatetimeField(null=True)
    # The last accepted time step: a code is never accepted twice (replay within its 30 s window).
    last_used_step = fields.BigIntField(null=True)

    class Meta:
        table = "totp_credentials"


class RecoveryCode(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="recovery_codes", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recovery_codes"


class PairingCode(Model):
    """A one-time code the web client shows for pairing a new machine; only its hash is stored."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="pairing_codes", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    machine_id = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "pairing_codes"
