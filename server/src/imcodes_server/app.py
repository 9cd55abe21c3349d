"""`create_app(config, host=None)`: the Quart application factory. No module-level app, no globals."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

from quart import Quart, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from imcodes_core.host import PluginHost
from imcodes_server import db
from imcodes_server.config import ServerConfig
from imcodes_server.routes_api import make_api_blueprint
from imcodes_server.routes_auth import make_auth_blueprint
from imcodes_server.routes_passkeys import make_passkeys_blueprint
from imcodes_server.web import make_web_blueprint, render_sign_in

_logger = logging.getLogger("imcodes.server")


def _bridge_module() -> Any | None:
    """The WebSocket bridge, when installed (it lands separately)."""
    try:
        return importlib.import_module("imcodes_server.bridge")
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("imcodes_server.bridge"):
            return None
        raise


def security_headers(config: ServerConfig) -> dict[str, str]:
    ws_origin = config.origin.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    csp = (
        "default-src 'self'; "
        f"connect-src 'self' {ws_origin}; "
        "img-src 'self' data:; "
        # xterm.js's DOM renderer injects <style> elements (theme, cell size); scripts stay 'self' only
        "style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; "
        "object-src 'none'; "
        "base-uri 'none'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if config.secure_cookies:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def create_app(config: ServerConfig, host: PluginHost | None = None, *, database: db.PgTarget | None = None) -> Quart:
    """Build the app. `database` is where to connect (from `imcodes up`/tests); otherwise config.database_url."""
    # static_folder=None: Quart's default /static route would shadow the web client's files (served by web.py)
    app = Quart("imcodes_server", static_folder=None)
    app.config["IMCODES"] = config
    app.config["SECRET_KEY"] = config.secret_key
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    target = database or (db.PgTarget.from_url(config.database_url) if config.database_url else None)
    if target is None:
        raise ValueError("create_app needs a database: pass database= or set database_url")
    app.config["IMCODES_DATABASE"] = target

    app.register_blueprint(make_auth_blueprint())
    app.register_blueprint(make_passkeys_blueprint())
    app.register_blueprint(make_api_blueprint())
    app.register_blueprint(make_web_blueprint())
    bridge = _bridge_module()
    # Coroutines `f(app)` the launcher awaits when shutdown begins, before Hypercorn waits for open connections.
    app.extensions["imcodes_before_shutdown"] = []
    if bridge is not None:
        app.register_blueprint(bridge.make_bridge_blueprint())
        if hasattr(bridge, "close_connections"):
            app.extensions["imcodes_before_shutdown"].append(bridge.close_connections)
    for spec in host.server_blueprints() if host is not None else []:
        app.register_blueprint(spec.factory(), url_prefix=spec.url_prefix)

    @app.while_serving
    async def lifespan() -> AsyncGenerator[None, None]:
        await db.open_orm(target)
        try:
            if bridge is not None and hasattr(bridge, "start"):
                await bridge.start(app)
            try:
                yield
            finally:
                if bridge is not None and hasattr(bridge, "stop"):
                    await bridge.stop(app)
        finally:
            await db.close_orm()

    headers = security_headers(config)

    @app.after_request
    async def add_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Any:
        return _error_response(error.code or 500, error.name.lower().replace(" ", "_"), error.name)

    @app.errorhandler(Exception)
    async def unexpected_error(error: Exception) -> Any:
        # Log the traceback for the operator; the user never sees it.
        _logger.error("unhandled error on %s %s", request.method, request.path, exc_info=error)
        return _error_response(500, "internal_error", "Something went wrong on the server.")

    return app


def _error_response(status: int, code: str, message: str) -> Any:
    wants_json = request.accept_mimetypes.best == "application/json"
    if request.path.startswith(("/api/", "/ws/", "/auth/logout")) or wants_json:
        response = jsonify({"error": {"code": code, "message": message}})
        response.status_code = status
        return response
    return (
        render_sign_in(message, status=status)
        if status == 401
        else Response(
            f"<!doctype html><title>{status}</title><p>{message}</p>", status=status, content_type="text/html"
        )
    )
