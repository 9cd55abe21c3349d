"""Server-side accounts, sign-in and machine pairing. Secrets are never stored: only their SHA-256 hashes.

The tables are created by the SQL migrations in `migrations/`; keep both in step.
"""

from __future__ import annotations

import hashlib
import secrets

from tortoise import fields
from tortoise.models import Model


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

    class Meta:
        table = "ws_tickets"
