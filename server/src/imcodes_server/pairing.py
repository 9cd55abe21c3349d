"""Pairing a new machine with a one-time code made in the web client (the server half of `imcodes bind`).

The signed-in user asks for a code (`POST /api/pairing-codes`, CSRF); the daemon on the new machine sends it once
with its machine id (`POST /api/pair`) and receives its own token, shown that one time and stored hashed. Codes live
10 minutes, carry ~59 random bits, are stored as hashes and spent atomically. `/api/pair` is rate limited per IP
(a locked address is refused before the code is looked at) and refuses browsers from other origins, so visitors of
a hostile page cannot be used to spread guesses over many addresses.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from quart import Blueprint, current_app, jsonify, request
from tortoise.transactions import in_transaction

from imcodes_server import auth, ratelimit
from imcodes_server.models import Machine, PairingCode, User, hash_token
from imcodes_server.routes_auth import (
    api_error,
    client_ip,
    csrf_protected,
    current_user,
    json_body,
    too_many_attempts,
)

PAIRING_TTL = timedelta(minutes=10)
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # typed from a phone screen: no 0/o, 1/l/i
_MACHINE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class MachineOfAnotherUserError(Exception):
    """The machine id is paired to another account: pairing must never move a machine between accounts."""


def _normalise(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


def hash_code(code: str) -> str:
    return hash_token(f"imcodes-pairing:{_normalise(code)}")


async def mint_pairing_code(user: User) -> tuple[str, PairingCode]:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    code = f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"
    await PairingCode.filter(expires_at__lt=auth.now()).delete()
    row = await PairingCode.create(user=user, code_hash=hash_code(code), expires_at=auth.now() + PAIRING_TTL)
    return code, row


async def redeem_pairing_code(code: str, machine_id: str, hostname: str) -> tuple[Machine, str, bool] | None:
    """(machine, its new token, whether it was paired before) or None for an unknown, used or expired code."""
    async with in_transaction():
        row = (
            await PairingCode.filter(code_hash=hash_code(code), used_at__isnull=True, expires_at__gt=auth.now())
            .select_for_update()
            .first()
        )
        if row is None:
            return None
        user_id: int = row.user_id  # type: ignore[attr-defined]
        existing = await Machine.get_or_none(id=machine_id)
        if existing is not None and existing.owner_id != user_id:  # type: ignore[attr-defined]
            raise MachineOfAnotherUserError(machine_id)
        row.used_at = auth.now()
        row.machine_id = machine_id
        await row.save(update_fields=["used_at", "machine_id"])
        token = await auth.pair_machine(await User.get(id=user_id), machine_id, hostname)
        return await Machine.get(id=machine_id), token, existing is not None


def _pair_body(body: Any) -> tuple[str, str, str] | None:
    if not isinstance(body, dict):
        return None
    code, machine_id, hostname = body.get("code"), body.get("machine_id"), body.get("hostname", "")
    if not (isinstance(code, str) and 0 < len(code) <= 64):
        return None
    if not (isinstance(machine_id, str) and _MACHINE_ID.match(machine_id)):
        return None
    if not isinstance(hostname, str):
        return None
    # PostgreSQL text cannot hold NUL, and a hostname has no business containing control characters.
    return code, machine_id, "".join(ch for ch in hostname if ch.isprintable())[:255]


def register_pairing_routes(blueprint: Blueprint) -> None:
    """Routes under the API blueprint's /api prefix."""

    @blueprint.post("/pairing-codes")
    @csrf_protected
    async def new_pairing_code() -> Any:
        user = await current_user()
        assert user is not None
        code, row = await mint_pairing_code(user)
        origin = current_app.config["IMCODES"].origin
        # Shown once, to the person who will type it on the new machine.
        return jsonify({"code": code, "expires_at": row.expires_at.isoformat(), "server": origin})

    @blueprint.post("/pair")
    async def pair() -> Any:
        # Not cookie-authenticated (the code in the body is the credential), so no CSRF token; but a browser page
        # from another origin is refused outright.
        origin = request.headers.get("Origin")
        if origin is not None and not auth.origin_allowed(origin, current_app.config["IMCODES"]):
            return api_error(403, "bad_origin", "request from another origin")
        parsed = _pair_body(await json_body())
        if parsed is None:
            return api_error(400, "bad_request", "send JSON {code, machine_id, hostname}")
        code, machine_id, hostname = parsed
        names = ratelimit.buckets(ratelimit.PAIRING, client_ip())
        try:
            reserved = await ratelimit.reserve(names)
        except ratelimit.LockedOutError as locked:
            return too_many_attempts(locked.retry_after)
        try:
            paired = await redeem_pairing_code(code, machine_id, hostname)
        except MachineOfAnotherUserError:
            await ratelimit.succeeded(reserved, [])  # a real code: not a guess
            return api_error(409, "machine_taken", "this machine id is paired to another account")
        if paired is None:
            return api_error(403, "bad_code", "this pairing code is unknown, used or expired")
        await ratelimit.succeeded(reserved, names)
        machine, token, was_paired = paired
        if was_paired:
            # Its old token stopped working; close the old link too, as a revoke would.
            from imcodes_server.routes_devices import disconnect_machine

            await disconnect_machine(machine.id)
        return jsonify({"machine_id": machine.id, "token": token})
