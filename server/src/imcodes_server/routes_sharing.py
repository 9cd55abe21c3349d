"""Sharing routes: the owner of a machine shares it (or one session of it) with another user of this server as viewer
or participant, lists and revokes shares (both recorded in the audit trail), and reads the audit trail of what
non-owners sent to it.

Another user's share or machine is indistinguishable from a missing one (404). Making or revoking a share is applied
to the grantee's open browser sockets at once (`bridge.shares_changed`). Cookie-only routes (not in
api_keys.ROUTE_SCOPES), CSRF-protected POSTs.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from quart import Blueprint, jsonify, request

from imcodes_server import auth, sharing
from imcodes_server.models import Machine, User
from imcodes_server.models_sharing import AuditEvent, Share
from imcodes_server.routes_auth import api_error, csrf_protected, current_user, json_body, login_required
from imcodes_server.routes_devices import _bridge_hook

_logger = logging.getLogger("imcodes.server.sharing")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")  # a machine or session name (protocol.frames.Name)
MAX_SHARES = 200  # live shares per owner
AUDIT_PAGE = 200


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def share_to_dict(share: Share, machine: Machine, user: User, *, user_key: str) -> dict[str, Any]:
    return {
        "id": share.id,
        "machine": machine.id,
        "hostname": machine.hostname,
        "session": share.session,
        "role": share.role,
        user_key: {"id": user.id, "name": user.name},
        "created_at": _iso(share.created_at),
    }


def audit_to_dict(row: AuditEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "machine": row.machine_id,  # type: ignore[attr-defined]
        "session": row.session,
        "user": {"id": row.user_id, "name": row.user_name},  # type: ignore[attr-defined]
        "role": row.role,
        "type": row.frame_type,
        "allowed": row.allowed,
        "length": row.text_length,
        "detail": row.detail,
        "at": _iso(row.at),
    }


async def _owned_machine(user: User, machine_id: Any) -> Machine | None:
    if not isinstance(machine_id, str) or not _NAME.match(machine_id):
        return None
    return await Machine.get_or_none(id=machine_id, owner_id=user.id, revoked_at__isnull=True)


async def shares_changed(user_id: int) -> None:
    await _bridge_hook("shares_changed", user_id)


def _parse_share(body: Any) -> tuple[Any, str | None, int, str] | str:
    """(machine, session, user_id, role) or what is wrong with the body."""
    if not isinstance(body, dict):
        return "send JSON {machine, session?, user_id, role}"
    session = body.get("session") or None
    if session is not None and (not isinstance(session, str) or not _NAME.match(session)):
        return "session must be a session name, or left out to share the whole machine"
    user_id = body.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not 0 < user_id < 2**31:
        return "user_id must be a user's id (see GET /api/users)"
    role = body.get("role")
    if role not in sharing.SHARE_ROLES:
        return f"role must be one of {', '.join(sharing.SHARE_ROLES)}"
    return body.get("machine"), session, user_id, str(role)


def register_sharing_routes(blueprint: Blueprint) -> None:
    @blueprint.get("/api/users")
    @login_required
    async def share_candidates() -> Any:
        user = await current_user()
        assert user is not None
        # Only someone with a machine to share learns who else is on this server (names only).
        if not await Machine.filter(owner_id=user.id, revoked_at__isnull=True).exists():
            return api_error(403, "no_machines", "pair a machine first: only machine owners can share")
        others = await User.exclude(id=user.id).order_by("name", "id").values("id", "name")
        return jsonify({"users": [{"id": row["id"], "name": row["name"]} for row in others]})

    @blueprint.get("/api/shares")
    @login_required
    async def list_shares() -> Any:
        user = await current_user()
        assert user is not None
        made = await Share.filter(
            created_by_id=user.id, revoked_at__isnull=True, machine__owner_id=user.id
        ).prefetch_related("machine", "grantee")
        received = await Share.filter(
            grantee_id=user.id, revoked_at__isnull=True, machine__revoked_at__isnull=True
        ).prefetch_related("machine", "created_by")
        return jsonify(
            {
                "shared_by_me": [share_to_dict(s, s.machine, s.grantee, user_key="user") for s in made],
                "shared_with_me": [share_to_dict(s, s.machine, s.created_by, user_key="owner") for s in received],
            }
        )

    @blueprint.post("/api/shares")
    @csrf_protected
    async def create_share() -> Any:
        user = await current_user()
        assert user is not None
        parsed = _parse_share(await json_body())
        if isinstance(parsed, str):
            return api_error(400, "invalid", parsed)
        machine_id, session, grantee_id, role = parsed
        machine = await _owned_machine(user, machine_id)
        if machine is None:
            return api_error(404, "not_found", "no such machine")
        if grantee_id == user.id:
            return api_error(400, "invalid", "you already own this machine")
        grantee = await User.get_or_none(id=grantee_id)
        if grantee is None:
            return api_error(404, "not_found", "no such user")
        share = await Share.filter(
            machine_id=machine.id, session=session, grantee_id=grantee.id, revoked_at__isnull=True
        ).first()
        if share is not None:
            share.role = role
            await share.save(update_fields=["role"])
        else:
            if await Share.filter(created_by_id=user.id, revoked_at__isnull=True).count() >= MAX_SHARES:
                return api_error(409, "too_many_shares", f"revoke a share first: at most {MAX_SHARES}")
            share = await Share.create(machine=machine, session=session, grantee=grantee, created_by=user, role=role)
        _logger.info("user %s shared %s with user %s as %s", user.id, machine.id, grantee.id, role)
        await sharing.record_share(
            owner_id=user.id,
            owner_name=user.name,
            share=share,
            grantee_name=grantee.name,
            action=sharing.SHARE_CREATE,
        )
        await shares_changed(grantee.id)
        return jsonify({"share": share_to_dict(share, machine, grantee, user_key="user")})

    @blueprint.post("/api/shares/<int:share_id>/revoke")
    @csrf_protected
    async def revoke_share(share_id: int) -> Any:
        user = await current_user()
        assert user is not None
        if not 0 < share_id < 2**31:
            return api_error(404, "not_found", "no such share")
        # The machine's owner revokes; the grantee's id on it is indistinguishable from a missing one.
        share = await Share.get_or_none(id=share_id, machine__owner_id=user.id).prefetch_related("grantee")
        if share is None:
            return api_error(404, "not_found", "no such share")
        if share.revoked_at is None:
            await Share.filter(id=share.id).update(revoked_at=auth.now())
            _logger.info("user %s revoked share %s", user.id, share.id)
            await sharing.record_share(
                owner_id=user.id,
                owner_name=user.name,
                share=share,
                grantee_name=share.grantee.name,
                action=sharing.SHARE_REVOKE,
            )
        await shares_changed(share.grantee_id)  # type: ignore[attr-defined]
        return jsonify({"ok": True})

    @blueprint.get("/api/audit")
    @login_required
    async def audit() -> Any:
        user = await current_user()
        assert user is not None
        machine = await _owned_machine(user, request.args.get("machine"))
        if machine is None:
            return api_error(404, "not_found", "no such machine")
        query = AuditEvent.filter(machine_id=machine.id)
        before = request.args.get("before", "")
        if before.isdigit() and len(before) < 19:
            query = query.filter(id__lt=int(before))
        rows = await query.order_by("-id").limit(AUDIT_PAGE)
        return jsonify({"events": [audit_to_dict(row) for row in rows], "more": len(rows) == AUDIT_PAGE})
