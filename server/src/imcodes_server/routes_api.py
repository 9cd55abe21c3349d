"""JSON API for the signed-in user's own records (live state comes over the WebSocket bridge)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quart import Blueprint, jsonify

from imcodes_server.models import Machine
from imcodes_server.routes_auth import current_user, login_required


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def machine_to_dict(machine: Machine) -> dict[str, Any]:
    # Never the token hash: the browser has no use for it.
    return {
        "id": machine.id,
        "hostname": machine.hostname,
        "created_at": _iso(machine.created_at),
        "last_seen": _iso(machine.last_seen),
        "revoked": machine.revoked_at is not None,
    }


def make_api_blueprint() -> Blueprint:
    blueprint = Blueprint("api", __name__, url_prefix="/api")

    @blueprint.get("/machines")
    @login_required
    async def machines() -> Any:
        user = await current_user()
        assert user is not None
        rows = await Machine.filter(owner_id=user.id).order_by("created_at")
        return jsonify({"machines": [machine_to_dict(row) for row in rows]})

    from imcodes_server.pairing import register_pairing_routes
    from imcodes_server.routes_devices import register_device_routes

    register_device_routes(blueprint)
    register_pairing_routes(blueprint)
    return blueprint
