"""HTTP routes for sign-in, sign-out, identity, WebSocket tickets and health."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from quart import Blueprint, Response, current_app, g, jsonify, redirect, request

from imcodes_server import auth
from imcodes_server.config import ServerConfig
from imcodes_server.models import User

Handler = Callable[..., Awaitable[Any]]


def _config() -> ServerConfig:
    config: ServerConfig = current_app.config["IMCODES"]
    return config


async def current_user() -> User | None:
    """The signed-in user of this request (cached on `g`)."""
    if "imcodes_user" not in g:
        session = await auth.web_session_for(request.cookies.get(auth.SESSION_COOKIE))
        g.imcodes_session = session
        g.imcodes_user = session.user if session else None
    user: User | None = g.imcodes_user
    return user


def api_error(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def login_required(handler: Handler) -> Handler:
    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if await current_user() is None:
            return api_error(401, "unauthenticated", "sign in first")
        return await handler(*args, **kwargs)

    return wrapper


def csrf_protected(handler: Handler) -> Handler:
    """State-changing requests: the X-CSRF-Token header must equal the session's token, Origin (when sent) ours."""

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if await current_user() is None:
            return api_error(401, "unauthenticated", "sign in first")
        origin = request.headers.get("Origin")
        if origin is not None and not auth.origin_allowed(origin, _config()):
            return api_error(403, "bad_origin", "request from another origin")
        sent = request.headers.get("X-CSRF-Token", "")
        expected = g.imcodes_session.csrf_token
        if not sent or not hmac.compare_digest(sent, expected):
            return api_error(403, "bad_csrf", "missing or wrong CSRF token")
        return await handler(*args, **kwargs)

    return wrapper


def make_auth_blueprint() -> Blueprint:
    blueprint = Blueprint("auth", __name__)

    @blueprint.get("/auth/link/<token>")
    async def follow_login_link(token: str) -> Any:
        user = await auth.redeem_login_link(token)
        if user is None:
            from imcodes_server.web import render_sign_in

            return render_sign_in("This sign-in link is unknown, used or expired.", status=403)
        session_token, csrf = await auth.start_web_session(user)
        config = _config()
        response = redirect("/")
        max_age = int(auth.SESSION_TTL.total_seconds())
        response.set_cookie(
            auth.SESSION_COOKIE,
            session_token,
            max_age=max_age,
            httponly=True,
            samesite="Strict",
            secure=config.secure_cookies,
            path="/",
        )
        response.set_cookie(
            auth.CSRF_COOKIE,
            csrf,
            max_age=max_age,
            httponly=False,
            samesite="Strict",
            secure=config.secure_cookies,
            path="/",
        )
        return response

    @blueprint.post("/auth/logout")
    @csrf_protected
    async def logout() -> Any:
        await auth.end_web_session(request.cookies.get(auth.SESSION_COOKIE, ""))
        response = jsonify({"ok": True})
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        response.delete_cookie(auth.CSRF_COOKIE, path="/")
        return response

    @blueprint.get("/api/me")
    @login_required
    async def me() -> Any:
        user = await current_user()
        assert user is not None
        return jsonify({"user": user.to_dict()})

    @blueprint.post("/api/ws-ticket")
    @csrf_protected
    async def ws_ticket() -> Any:
        user = await current_user()
        assert user is not None
        return jsonify({"ticket": await auth.mint_ws_ticket(user)})

    @blueprint.get("/api/health")
    async def health() -> Any:
        return jsonify({"ok": True})

    return blueprint
