"""The devices page's API: the user's browsers (web sessions) and machines (daemons), each revocable.

Revoking a machine stamps `revoked_at` (its token is refused from then on, see `auth.machine_for_token`) and asks
the bridge to drop the daemon's open link at once, when the bridge offers `disconnect_machine(app, machine_id)`.
Ending a browser session (revoked here, signed out, signed out everywhere) or revoking an API key likewise closes the
browser WebSockets its tickets opened (`disconnect_web_session`, `disconnect_api_key`, `disconnect_browsers`).
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime
from typing import Any

from quart import Blueprint, current_app, g, jsonify

from imcodes_server import auth
from imcodes_server.models import Machine, WebSession
from imcodes_server.routes_auth import api_error, csrf_protected, current_user, login_required

_logger = logging.getLogger("imcodes.server.devices")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def web_session_to_dict(session: WebSession, current_id: int | None) -> dict[str, Any]:
    # Never the token hash or the CSRF token.
    return {
        "id": session.id,
        "user_agent": session.user_agent,
        "created_at": _iso(session.created_at),
        "last_used_at": _iso(session.last_used_at),
        "expires_at": _iso(session.expires_at),
        "current": session.id == current_id,
    }


async def _bridge_hook(name: str, *args: object) -> bool:
    """Call `imcodes_server.bridge.<name>(app, *args)`; False when the bridge has no such hook (not installed)."""
    try:
        bridge = importlib.import_module("imcodes_server.bridge")
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("imcodes_server.bridge"):
            return False
        raise
    hook = getattr(bridge, name, None)
    if hook is None:
        return False
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    await hook(app, *args)
    return True


async def disconnect_machine(machine_id: str) -> bool:
    """Ask the bridge to close the machine's daemon link now; False when the bridge has no such hook."""
    return await _bridge_hook("disconnect_machine", machine_id)


async def disconnect_web_session(session_id: int) -> bool:
    """Close the browser sockets this (now ended) browser session opened; False when the bridge has no such hook."""
    return await _bridge_hook("disconnect_web_session", session_id)


async def disconnect_api_key(key_id: int) -> bool:
    """Close the browser sockets opened with this (now revoked) API key's tickets."""
    return await _bridge_hook("disconnect_api_key", key_id)


async def disconnect_ended_web_sessions(user_id: int) -> bool:
    """After signing out everywhere: close the user's sockets opened by a browser session that no longer exists
    (a session signed in after the sweep keeps its sockets; API-key sockets stay: the keys still work)."""
    alive = set(await WebSession.filter(user_id=user_id).values_list("id", flat=True))

    def ended(link: Any) -> bool:
        return bool(link.user_id == user_id and link.web_session_id is not None and link.web_session_id not in alive)

    return await _bridge_hook("disconnect_browsers", ended)


def register_device_routes(blueprint: Blueprint) -> None:
    """Routes under the API blueprint's /api prefix."""
    from imcodes_server.routes_api import machine_to_dict

    @blueprint.get("/devices")
    @login_required
    async def devices() -> Any:
        user = await current_user()
        assert user is not None
        current_id = g.imcodes_session.id if g.imcodes_session is not None else None  # None: an API key
        sessions = await WebSession.filter(user_id=user.id, expires_at__gt=auth.now()).order_by("-last_used_at", "id")
        machines = await Machine.filter(owner_id=user.id).order_by("created_at")
        return jsonify(
            {
                "web_sessions": [web_session_to_dict(row, current_id) for row in sessions],
                "machines": [machine_to_dict(row) for row in machines],
            }
        )

    @blueprint.post("/devices/web/<int:session_id>/revoke")
    @csrf_protected
    async def revoke_web_session(session_id: int) -> Any:
        user = await current_user()
        assert user is not None
        if not 0 < session_id < 2**31:  # the column is a 32-bit int; a bigger id is simply not there
            return api_error(404, "not_found", "no such browser session")
        # Filtering by the owner makes another user's id indistinguishable from a missing one (404, not 403).
        deleted = await WebSession.filter(id=session_id, user_id=user.id).delete()
        if not deleted:
            return api_error(404, "not_found", "no such browser session")
        await disconnect_web_session(session_id)  # its open WebSockets were let in by its tickets: close them too
        return jsonify({"ok": True, "current": session_id == g.imcodes_session.id})

    @blueprint.post("/machines/<machine_id>/revoke")
    @csrf_protected
    async def revoke_machine(machine_id: str) -> Any:
        user = await current_user()
        assert user is not None
        if len(machine_id) > 128 or "\x00" in machine_id:  # cannot be a stored id (PostgreSQL text has no NUL)
            return api_error(404, "not_found", "no such machine")
        machine = await Machine.get_or_none(id=machine_id, owner_id=user.id)
        if machine is None:
            return api_error(404, "not_found", "no such machine")
        await auth.revoke_machine(machine)
        disconnected = await disconnect_machine(machine.id)
        if not disconnected:
            _logger.warning(
                "bridge has no disconnect_machine hook; machine %s stays linked until it reconnects", machine.id
            )
        return jsonify({"ok": True, "machine": machine_to_dict(machine), "disconnected": disconnected})
