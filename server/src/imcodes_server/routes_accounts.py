"""Invitations (`invitations.py`), API keys (`api_keys.py`), sharing (`routes_sharing.py`) and the owner's list of
people (`routes_people.py`), registered on the auth blueprint (no URL prefix)."""

from __future__ import annotations

from quart import Blueprint


def register_account_routes(blueprint: Blueprint) -> None:
    from imcodes_server.api_keys import register_api_key_routes
    from imcodes_server.invitations import register_invitation_routes
    from imcodes_server.routes_people import register_people_routes
    from imcodes_server.routes_sharing import register_sharing_routes

    register_invitation_routes(blueprint)
    register_api_key_routes(blueprint)
    register_sharing_routes(blueprint)
    register_people_routes(blueprint)
