"""HTTP routes for sign-in, sign-out, identity, WebSocket tickets and health."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from quart import Blueprint, Response, current_app, g, jsonify, redirect, request
from werkzeug.sansio.response import Response as AnyResponse

from imcodes_server import auth, ratelimit, totp
from imcodes_server.config import ServerConfig
from imcodes_server.models import User

Handler = Callable[..., Awaitable[Any]]


def _config() -> ServerConfig:
    config: ServerConfig = current_app.config["IMCODES"]
    return config


def client_ip() -> str:
    """The peer address. Behind a reverse proxy this is the proxy: see docs/security.md (rate limits)."""
    return request.remote_addr or "unknown"


def user_agent() -> str:
    return "".join(ch for ch in request.headers.get("User-Agent", "") if ch.isprintable())[:255]


async def current_user() -> User | None:
    """The signed-in user of this request (cached on `g`); records the session's last use."""
    if "imcodes_user" not in g:
        session = await auth.web_session_for(request.cookies.get(auth.SESSION_COOKIE))
        g.imcodes_session = session
        g.imcodes_user = session.user if session else None
        if session is not None:
            await auth.touch_web_session(session)
    user: User | None = g.imcodes_user
    return user


async def json_body() -> Any:
    """The request's JSON, or None when it is not valid JSON (bad UTF-8 included: that must be a 400, not a 500)."""
    raw = await request.get_data(cache=True, as_text=False)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def too_many_attempts(retry_after: int, *, html: bool = False) -> Response:
    """429 with Retry-After and a message a person can act on."""
    minutes = max(1, round(retry_after / 60))
    message = f"Too many failed attempts. Try again in about {minutes} minute{'s' if minutes > 1 else ''}."
    if html:
        from imcodes_server.web import render_sign_in

        response = render_sign_in(message, status=429)
    else:
        response = api_error(429, "too_many_attempts", message)
    response.headers["Retry-After"] = str(retry_after)
    return response


def set_session_cookies(response: AnyResponse, session_token: str, csrf: str) -> None:
    config = _config()
    max_age = int(auth.SESSION_TTL.total_seconds())
    for name, value, httponly in ((auth.SESSION_COOKIE, session_token, True), (auth.CSRF_COOKIE, csrf, False)):
        # The CSRF cookie is readable by our own script (double submit); the session cookie never is.
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=httponly,
            samesite="Strict",
            secure=config.secure_cookies,
            path="/",
        )


def clear_session_cookies(response: AnyResponse) -> None:
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    response.delete_cookie(auth.CSRF_COOKIE, path="/")


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
        if g.get("imcodes_api_key") is not None:
            # Authenticated by an API key in the Authorization header (api_keys.py), not by a cookie: a browser
            # never attaches it to a forged request, so there is nothing to check here.
            return await handler(*args, **kwargs)
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

            # A valid link is always honoured (256 random bits: the lock cannot help guessing, and it must not
            # lock the owner out of `imcodes login-link`); wrong links are counted per IP and refused with 429.
            locked_for = await ratelimit.record_failure(ratelimit.buckets(ratelimit.LINK, client_ip()))
            if locked_for is not None:
                return too_many_attempts(locked_for, html=True)
            return render_sign_in("This sign-in link is unknown, used or expired.", status=403)
        if await totp.is_enrolled(user.id):
            pending = await auth.start_pending_sign_in(user, user_agent())
            response = redirect("/auth/second-factor")
            response.set_cookie(
                auth.PENDING_COOKIE,
                pending,
                max_age=int(auth.PENDING_TTL.total_seconds()),
                httponly=True,
                samesite="Strict",
                secure=_config().secure_cookies,
                path="/auth/",
            )
            return response
        session_token, csrf = await auth.start_web_session(user, user_agent())
        response = redirect("/")
        set_session_cookies(response, session_token, csrf)
        return response

    @blueprint.post("/auth/logout")
    @csrf_protected
    async def logout() -> Any:
        from imcodes_server.routes_devices import disconnect_web_session

        await auth.end_web_session(request.cookies.get(auth.SESSION_COOKIE, ""))
        await disconnect_web_session(g.imcodes_session.id)
        response = jsonify({"ok": True})
        clear_session_cookies(response)
        return response

    @blueprint.post("/auth/logout-everywhere")
    @csrf_protected
    async def logout_everywhere() -> Any:
        user = await current_user()
        assert user is not None
        from imcodes_server.routes_devices import disconnect_ended_web_sessions

        ended = await auth.end_all_web_sessions(user.id)
        await disconnect_ended_web_sessions(user.id)
        response = jsonify({"ok": True, "sessions_ended": ended})
        clear_session_cookies(response)
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
        # Bound to the asking browser session or API key: revoking it refuses the ticket and closes its socket.
        ticket = await auth.mint_ws_ticket(user, web_session=g.imcodes_session, api_key=g.get("imcodes_api_key"))
        return jsonify({"ticket": ticket})

    @blueprint.get("/api/health")
    async def health() -> Any:
        return jsonify({"ok": True})

    from imcodes_server.routes_second_factor import register_second_factor_routes

    register_second_factor_routes(blueprint)
    from imcodes_server.routes_accounts import register_account_routes

    register_account_routes(blueprint)
    return blueprint
