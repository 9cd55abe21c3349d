"""The WebSocket bridge between daemons (`/ws/daemon`) and browsers (`/ws/client`). See notes/LINK.md.

`create_app` registers `make_bridge_blueprint()` and awaits `start(app)` / `stop(app)` in its lifespan and
`close_connections(app)` when shutdown begins. `disconnect_machine(app, machine_id)` drops a daemon's link at once
(revocation); `disconnect_web_session(app, session_id)`, `disconnect_api_key(app, key_id)` and
`disconnect_browsers(app, matches)` close the browser sockets opened with a revoked credential's tickets;
`shares_changed(app, user_id)` applies a made or revoked share to that user's open sockets at once.
All state lives on the app (`app.extensions["imcodes_bridge"]`).
"""

from __future__ import annotations

from collections.abc import Callable

from quart import Blueprint, Quart, current_app, websocket

from imcodes_server.bridge.hub import EXTENSION, Hub
from imcodes_server.bridge.links import CLOSE_GOING_AWAY, CLOSE_UNAUTHORIZED, BrowserLink

__all__ = [
    "Hub",
    "close_connections",
    "disconnect_api_key",
    "disconnect_browsers",
    "disconnect_machine",
    "disconnect_web_session",
    "hub_of",
    "make_bridge_blueprint",
    "shares_changed",
    "start",
    "stop",
]


def hub_of(app: Quart) -> Hub:
    hub = app.extensions.get(EXTENSION)
    if hub is None:  # served without the lifespan having started the bridge (should not happen): start lazily
        hub = app.extensions[EXTENSION] = Hub.from_config(app.config)
    return hub


def make_bridge_blueprint() -> Blueprint:
    from imcodes_server.bridge.client_ws import serve_browser
    from imcodes_server.bridge.daemon_ws import serve_daemon

    blueprint = Blueprint("bridge", __name__)

    @blueprint.websocket("/ws/daemon")
    async def daemon_socket() -> None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        await serve_daemon(hub_of(app), websocket._get_current_object())  # type: ignore[attr-defined]

    @blueprint.websocket("/ws/client")
    async def client_socket() -> None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        await serve_browser(hub_of(app), websocket._get_current_object(), app.config["IMCODES"])  # type: ignore[attr-defined]

    return blueprint


async def start(app: Quart) -> None:
    hub = Hub.from_config(app.config)
    app.extensions[EXTENSION] = hub
    hub.start()


async def close_connections(app: Quart) -> None:
    hub = app.extensions.get(EXTENSION)
    if hub is not None:
        await hub.close_all(CLOSE_GOING_AWAY)


async def stop(app: Quart) -> None:
    hub = app.extensions.pop(EXTENSION, None)
    if hub is not None:
        await hub.stop()


async def disconnect_machine(app: Quart, machine_id: str) -> None:
    """Close the machine's daemon link now (its token was revoked): 4401, browsers see it offline. Users it was
    shared with get their machine list again at once, without it (their shares of a revoked machine are dead)."""
    hub = app.extensions.get(EXTENSION)
    if hub is None:
        return
    link = hub.daemons.get(machine_id)
    if link is not None:
        await link.close(CLOSE_UNAUTHORIZED, "token revoked")
        await hub.daemon_left(link)
    grantees = {user for user, group in hub.browsers.items() for b in group if machine_id in b.grants}
    for user_id in sorted(grantees):
        await shares_changed(app, user_id)


async def disconnect_browsers(app: Quart, matches: Callable[[BrowserLink], bool], reason: str = "signed out") -> int:
    """Close every browser socket `matches` picks with 4401 (the page then finds it is signed out); how many."""
    hub = app.extensions.get(EXTENSION)
    if hub is None:
        return 0
    return await hub.close_browsers(matches, reason)


async def disconnect_web_session(app: Quart, session_id: int) -> int:
    """The browser session was revoked or signed out: close the sockets its tickets opened."""
    return await disconnect_browsers(app, lambda link: link.web_session_id == session_id, "browser signed out")


async def disconnect_api_key(app: Quart, key_id: int) -> int:
    """The API key was revoked: close the sockets its tickets opened."""
    return await disconnect_browsers(app, lambda link: link.api_key_id == key_id, "API key revoked")


async def shares_changed(app: Quart, user_id: int) -> None:
    """A share given to `user_id` was made or revoked: their open sockets get the new list at once, and lose the
    terminal subscriptions they may no longer watch (their next frame is decided on the new shares too)."""
    from imcodes_server import sharing
    from imcodes_server.bridge.client_ws import machines_frame

    hub = app.extensions.get(EXTENSION)
    if hub is None:
        return
    links = [link for link in hub.browsers.get(user_id, ()) if not link.closed]
    if not links:
        return
    grants = await sharing.grants_for(user_id)
    for link in links:
        hub.regrant(link, dict(grants))
        link.send_text(await machines_frame(hub, link))
