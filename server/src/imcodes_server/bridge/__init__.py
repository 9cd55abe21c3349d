"""The WebSocket bridge between daemons (`/ws/daemon`) and browsers (`/ws/client`). See notes/LINK.md.

`create_app` registers `make_bridge_blueprint()` and awaits `start(app)` / `stop(app)` in its lifespan and
`close_connections(app)` when shutdown begins. `disconnect_machine(app, machine_id)` drops a daemon's link at once
(revocation); `disconnect_web_session(app, session_id)`, `disconnect_api_key(app, key_id)` and
`disconnect_browsers(app, matches)` close the browser sockets opened with a revoked credential's tickets.
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
    """Close the machine's daemon link now (its token was revoked): 4401, browsers see it offline."""
    hub = app.extensions.get(EXTENSION)
    if hub is None:
        return
    link = hub.daemons.get(machine_id)
    if link is None:
        return
    await link.close(CLOSE_UNAUTHORIZED, "token revoked")
    await hub.daemon_left(link)


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
