"""Passkey routes. The signed-in user's (session cookie + CSRF): list, registration options, register, delete.
Public (the sign-in page; Origin checked, failures counted per IP in the lockout): sign-in options and sign-in,
which starts a web session exactly like a sign-in link, or a pending sign-in when TOTP is on."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, jsonify, request

from imcodes_server import auth, passkeys, ratelimit, totp
from imcodes_server.config import ServerConfig
from imcodes_server.routes_auth import (
    api_error,
    client_ip,
    csrf_protected,
    current_user,
    json_body,
    login_required,
    set_session_cookies,
    too_many_attempts,
    user_agent,
)


def _config() -> ServerConfig:
    config: ServerConfig = current_app.config["IMCODES"]
    return config


def _json_options(options_json: str) -> Response:
    return Response(options_json, content_type="application/json", headers={"Cache-Control": "no-store"})


def _refused(error: passkeys.PasskeyError) -> Response:
    return api_error(error.status, error.code, error.message)


def _foreign_origin() -> bool:
    origin = request.headers.get("Origin")
    return origin is not None and not auth.origin_allowed(origin, _config())


def make_passkeys_blueprint() -> Blueprint:
    blueprint = Blueprint("passkeys", __name__)

    @blueprint.get("/api/passkeys")
    @login_required
    async def list_passkeys() -> Any:
        user = await current_user()
        assert user is not None
        try:
            passkeys.relying_party(_config())
            available, reason = True, ""
        except passkeys.PasskeyError as error:
            available, reason = False, error.message
        return jsonify({"passkeys": await passkeys.list_for(user), "available": available, "reason": reason})

    @blueprint.post("/api/passkeys/register/options")
    @csrf_protected
    async def registration_options() -> Any:
        user = await current_user()
        assert user is not None
        try:
            return _json_options(await passkeys.registration_options(user, _config()))
        except passkeys.PasskeyError as error:
            return _refused(error)

    @blueprint.post("/api/passkeys/register")
    @csrf_protected
    async def register_passkey() -> Any:
        user = await current_user()
        assert user is not None
        try:
            credential, name = passkeys.parse_body(await json_body())
            passkey = await passkeys.register(user, credential, name, _config())
        except passkeys.PasskeyError as error:
            return _refused(error)
        return jsonify({"passkey": passkeys.to_dict(passkey)})

    @blueprint.post("/api/passkeys/<int:passkey_id>/delete")
    @csrf_protected
    async def delete_passkey(passkey_id: int) -> Any:
        user = await current_user()
        assert user is not None
        if not await passkeys.delete(user, passkey_id):
            return api_error(404, "not_found", "no such passkey")
        return jsonify({"ok": True})

    @blueprint.post("/auth/passkey/options")
    async def sign_in_options() -> Any:
        if _foreign_origin():
            return api_error(403, "bad_origin", "request from another origin")
        try:
            return _json_options(await passkeys.sign_in_options(_config()))
        except passkeys.PasskeyError as error:
            return _refused(error)

    @blueprint.post("/auth/passkey")
    async def sign_in_with_passkey() -> Any:
        if _foreign_origin():
            return api_error(403, "bad_origin", "request from another origin")
        # Counted before the check, so parallel guesses see each other (see ratelimit.reserve).
        names = ratelimit.buckets(passkeys.LOCKOUT_METHOD, client_ip())
        try:
            reserved = await ratelimit.reserve(names)
        except ratelimit.LockedOutError as locked:
            return too_many_attempts(locked.retry_after)
        try:
            credential, _ = passkeys.parse_body(await json_body())
            user = await passkeys.sign_in(credential, _config())
        except passkeys.PasskeyError as error:
            return _refused(error)
        await ratelimit.succeeded(reserved, names)
        if await totp.is_enrolled(user.id):
            # Same as a sign-in link: the session cookie only after the second factor's form.
            pending = await auth.start_pending_sign_in(user, user_agent())
            response = jsonify({"ok": True, "next": "/auth/second-factor"})
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
        response = jsonify({"ok": True, "next": "/"})
        set_session_cookies(response, session_token, csrf)
        return response

    return blueprint
