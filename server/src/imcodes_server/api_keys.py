"""API keys for scripts: `Authorization: Bearer imk_...` on the routes that accept them, limited by scopes.

A key is `imk_` + 256 random bits, shown once when made; only its SHA-256 hash is stored. Each key carries scopes, and
only the routes in `ROUTE_SCOPES` accept a key at all: every other route (sign-out, key and invitation management,
browser revocation, the second factor) is cookie-only and refuses a request that carries a key, even with a valid
cookie beside it. A revoked key is refused from the next request on (every request looks the key up).

A bearer key is not a cookie, so a browser never attaches it to a forged cross-site request: key-authenticated POSTs
need no CSRF token (`routes_auth.csrf_protected` skips the check when `g.imcodes_api_key` is set). Cookie requests
still need it.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from quart import Blueprint, g, jsonify, request

from imcodes_server import auth
from imcodes_server.models import User, hash_token
from imcodes_server.models_accounts import ApiKey
from imcodes_server.routes_auth import api_error, csrf_protected, current_user, json_body, login_required

_logger = logging.getLogger("imcodes.server.api_keys")

KEY_PREFIX = "imk_"
MAX_KEYS = 50  # live keys per user: plenty for scripts, and bounds the table
# last_used_at is for people reading the list: a minute's precision saves a write on every scripted request.
KEY_TOUCH_EVERY = timedelta(minutes=1)

SCOPES: dict[str, str] = {
    "read": "read the account: GET /api/me, GET /api/machines, GET /api/devices",
    "machines": "manage machines: POST /api/pairing-codes, POST /api/machines/<id>/revoke",
    "sessions": "open the terminal bridge: POST /api/ws-ticket (a ticket for /ws/client, which sees and drives "
    "the account's sessions)",
}
# endpoint -> the scope a key needs there. Routes not listed here are cookie-only.
ROUTE_SCOPES: dict[str, str] = {
    "auth.me": "read",
    "api.machines": "read",
    "api.devices": "read",
    "api.new_pairing_code": "machines",
    "api.revoke_machine": "machines",
    "auth.ws_ticket": "sessions",
}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def api_key_to_dict(key: ApiKey) -> dict[str, Any]:
    # Never the hash; the prefix is the key's first 4 random characters, for telling keys apart.
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": sorted(key.scope_set()),
        "created_at": _iso(key.created_at),
        "last_used_at": _iso(key.last_used_at),
        "revoked": key.revoked_at is not None,
    }


async def create_api_key(user: User, name: str, scopes: set[str]) -> tuple[str, ApiKey]:
    """(the key, shown once, and its row)."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = await ApiKey.create(
        user=user,
        name=name,
        prefix=secret[: len(KEY_PREFIX) + 4],
        key_hash=hash_token(secret),
        scopes=",".join(sorted(scopes)),
    )
    return secret, row


async def api_key_for(secret: str) -> ApiKey | None:
    """The live key (with its user) for a presented secret; None when unknown or revoked."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 128:
        return None
    return await ApiKey.filter(key_hash=hash_token(secret), revoked_at__isnull=True).select_related("user").first()


async def _touch(key: ApiKey) -> None:
    moment = auth.now()
    if key.last_used_at is None or moment - key.last_used_at >= KEY_TOUCH_EVERY:
        key.last_used_at = moment
        await ApiKey.filter(id=key.id).update(last_used_at=moment)


def presented_key() -> str | None:
    """The `imk_...` credential of `Authorization: Bearer`, or None (other bearer tokens are not ours to judge)."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential.startswith(KEY_PREFIX):
        return None
    return credential


async def authenticate_api_key() -> Any:
    """Before every HTTP request: a request carrying a key is served as the key's user, or refused here."""
    secret = presented_key()
    if secret is None:
        return None
    key = await api_key_for(secret)
    if key is None:
        # Never the key itself in the log (the redaction filter would mask it, but it must not get that far).
        _logger.info("API key refused on %s %s: unknown or revoked", request.method, request.path)
        return api_error(401, "bad_api_key", "this API key is unknown or revoked")
    scope = ROUTE_SCOPES.get(request.endpoint or "")
    if scope is None:
        return api_error(403, "cookie_only", "API keys are not accepted on this route; sign in in a browser")
    if scope not in key.scope_set():
        return api_error(403, "insufficient_scope", f"this API key lacks the '{scope}' scope")
    # `current_user()` returns the cached user; `csrf_protected` sees the key and skips the cookie's CSRF check.
    g.imcodes_user = key.user
    g.imcodes_session = None
    g.imcodes_api_key = key
    await _touch(key)
    return None


def _new_key_body(body: Any) -> tuple[str, set[str]] | str:
    """(name, scopes) or an error message."""
    if not isinstance(body, dict):
        return "send JSON {name, scopes}"
    name, scopes = body.get("name"), body.get("scopes")
    if not isinstance(name, str) or not (name := "".join(ch for ch in name if ch.isprintable()).strip()):
        return "give the key a name"
    if len(name) > 120:
        return "the name is longer than 120 characters"
    if not isinstance(scopes, list) or not scopes or not all(isinstance(scope, str) for scope in scopes):
        return f"choose at least one scope: {', '.join(SCOPES)}"
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        return f"unknown scope {unknown[0][:40]!r}; the scopes are {', '.join(SCOPES)}"
    return name, set(scopes)


def register_api_key_routes(blueprint: Blueprint) -> None:
    """Key management: cookie-only (not in ROUTE_SCOPES), so a key can never mint or revoke keys."""
    blueprint.before_app_request(authenticate_api_key)

    @blueprint.get("/api/keys")
    @login_required
    async def list_api_keys() -> Any:
        user = await current_user()
        assert user is not None
        rows = await ApiKey.filter(user_id=user.id).order_by("-created_at", "-id")
        return jsonify({"keys": [api_key_to_dict(row) for row in rows], "scopes": SCOPES})

    @blueprint.post("/api/keys")
    @csrf_protected
    async def new_api_key() -> Any:
        user = await current_user()
        assert user is not None
        parsed = _new_key_body(await json_body())
        if isinstance(parsed, str):
            return api_error(400, "bad_request", parsed)
        if await ApiKey.filter(user_id=user.id, revoked_at__isnull=True).count() >= MAX_KEYS:
            return api_error(409, "too_many_keys", f"revoke a key first: at most {MAX_KEYS} keys per account")
        name, scopes = parsed
        secret, row = await create_api_key(user, name, scopes)
        _logger.info("user %s made API key %s (%s)", user.id, row.id, row.scopes)
        # The only time the key leaves the server.
        return jsonify({"key": secret, "api_key": api_key_to_dict(row)})

    @blueprint.post("/api/keys/<int:key_id>/revoke")
    @csrf_protected
    async def revoke_api_key(key_id: int) -> Any:
        user = await current_user()
        assert user is not None
        if not 0 < key_id < 2**31:
            return api_error(404, "not_found", "no such API key")
        # Another user's id answers exactly like a missing one.
        key = await ApiKey.get_or_none(id=key_id, user_id=user.id)
        if key is None:
            return api_error(404, "not_found", "no such API key")
        if key.revoked_at is None:
            key.revoked_at = auth.now()
            await ApiKey.filter(id=key.id).update(revoked_at=key.revoked_at)
            _logger.info("user %s revoked API key %s", user.id, key.id)
        from imcodes_server.routes_devices import disconnect_api_key

        await disconnect_api_key(key.id)  # the WebSockets its tickets opened close too
        return jsonify({"ok": True, "api_key": api_key_to_dict(key)})
