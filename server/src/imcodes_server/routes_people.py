"""The owner's list of the other people on this server, and removing one of them.

Removing deletes the user's row, so everything hanging off it goes with it in one transaction (the foreign keys
cascade): browser sessions, API keys, WebSocket tickets, passkeys, TOTP, shares given to them and made by them, and
the machines they paired (stamped revoked first, then deleted with their sessions and timelines: a removed person's
daemons must never link again). Audit rows keep the name (`user_name`; the id becomes NULL). Then the bridge closes
their browser sockets and their daemons' links, and re-sends the machine list to whoever had one of their machines
shared. Cookie-only routes (not in api_keys.ROUTE_SCOPES), owner only, the POST CSRF-protected.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from quart import Blueprint, jsonify
from tortoise.transactions import in_transaction

from imcodes_server import auth
from imcodes_server.models import Machine, User
from imcodes_server.routes_auth import api_error, csrf_protected, current_user, login_required
from imcodes_server.routes_devices import _bridge_hook, disconnect_machine

_logger = logging.getLogger("imcodes.server.people")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def _owner() -> User | None:
    user = await current_user()
    return user if user is not None and user.is_owner else None


async def remove_user(user: User) -> list[str]:
    """Delete `user` and all they hold; returns the ids of the machines they had paired (now gone)."""
    async with in_transaction():
        machines = list(await Machine.filter(owner_id=user.id).values_list("id", flat=True))
        await Machine.filter(owner_id=user.id, revoked_at__isnull=True).update(revoked_at=auth.now())
        await User.filter(id=user.id).delete()
    return [str(machine) for machine in machines]


async def close_links_of(user_id: int, machines: list[str]) -> None:
    """After `remove_user`: their browser sockets (any credential) and their daemons' links close now."""
    await _bridge_hook("disconnect_browsers", lambda link: link.user_id == user_id)
    for machine in machines:
        await disconnect_machine(machine)


def register_people_routes(blueprint: Blueprint) -> None:
    @blueprint.get("/api/people")
    @login_required
    async def people() -> Any:
        owner = await _owner()
        if owner is None:
            return api_error(403, "owner_only", "only the owner can list and remove people")
        rows = await User.exclude(id=owner.id).order_by("name", "id")
        counts: dict[int, int] = {}
        for row in await Machine.filter(revoked_at__isnull=True).values("owner_id"):
            counts[int(row["owner_id"])] = counts.get(int(row["owner_id"]), 0) + 1
        return jsonify(
            {
                "people": [
                    {"id": r.id, "name": r.name, "created_at": _iso(r.created_at), "machines": counts.get(r.id, 0)}
                    for r in rows
                ]
            }
        )

    @blueprint.post("/api/users/<int:user_id>/remove")
    @csrf_protected
    async def remove_person(user_id: int) -> Any:
        owner = await _owner()
        if owner is None:
            return api_error(403, "owner_only", "only the owner can remove people")
        if not 0 < user_id < 2**31:
            return api_error(404, "not_found", "no such user")
        if user_id == owner.id:
            return api_error(400, "invalid", "the owner cannot remove themselves")
        user = await User.get_or_none(id=user_id)
        if user is None:
            return api_error(404, "not_found", "no such user")
        if user.is_owner:  # a second owner (set by a database operator) is not removed from the page
            return api_error(403, "owner_only", "another owner cannot be removed here")
        machines = await remove_user(user)
        _logger.info("owner %s removed user %s (%d machines revoked)", owner.id, user_id, len(machines))
        await close_links_of(user_id, machines)
        return jsonify({"ok": True, "machines_revoked": len(machines)})
