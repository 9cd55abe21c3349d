"""TOTP routes: the code form after a sign-in link, and enrolment/disable for the signed-in user.

Every code check goes through `check_second_factor`, which counts wrong codes in the lockout (per IP and per account,
TOTP and recovery codes in separate buckets so locking one leaves the other usable).
"""

from __future__ import annotations

import html
from typing import Any

from quart import Blueprint, Response, current_app, jsonify, redirect, request

from imcodes_server import auth, ratelimit, totp
from imcodes_server.models import PendingSignIn, hash_token
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

_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>imcodes: second factor</title></head>
<body>
<h1>imcodes</h1>
<p>{message}</p>
<form method="post" action="/auth/second-factor">
<label>Code from your authenticator app, or a recovery code
<input name="code" autocomplete="one-time-code" autofocus required></label>
<button type="submit">Sign in</button>
</form>
</body></html>
"""


def _server_secret() -> str:
    secret: str = current_app.config["IMCODES"].secret_key
    return secret


def _form(message: str, status: int) -> Response:
    return Response(
        _FORM.format(message=html.escape(message)), status=status, content_type="text/html; charset=utf-8"
    )


async def _submitted_code() -> str:
    if request.is_json:
        body = await json_body()
        code = body.get("code") if isinstance(body, dict) else None
    else:
        code = (await request.form).get("code")
    return code.strip()[:64] if isinstance(code, str) else ""


async def check_second_factor(user_id: int, code: str, *, enrolling: bool = False) -> tuple[bool, int | None]:
    """(valid, seconds locked). A six-digit code is tried as TOTP, anything else as a recovery code."""
    method = ratelimit.TOTP if enrolling or totp.looks_like_totp(code) else ratelimit.RECOVERY
    names = ratelimit.buckets(method, client_ip(), user_id)
    try:
        reserved = await ratelimit.reserve(names)
    except ratelimit.LockedOutError as locked:
        return False, locked.retry_after
    if method == ratelimit.TOTP:
        valid = await totp.check_code(user_id, code, _server_secret(), confirmed=not enrolling)
    else:
        valid = await totp.use_recovery_code(user_id, code)
    if valid:
        await ratelimit.succeeded(reserved, names)
    return valid, None


def register_second_factor_routes(blueprint: Blueprint) -> None:
    @blueprint.get("/auth/second-factor")
    async def second_factor_form() -> Any:
        if await auth.pending_sign_in_for(request.cookies.get(auth.PENDING_COOKIE)) is None:
            from imcodes_server.web import render_sign_in

            return render_sign_in("Open a sign-in link first.")
        return _form("Enter the code from your authenticator app.", 200)

    @blueprint.post("/auth/second-factor")
    async def second_factor_submit() -> Any:
        wants_html = not request.is_json
        origin = request.headers.get("Origin")
        if origin is not None and not auth.origin_allowed(origin, current_app.config["IMCODES"]):
            return api_error(403, "bad_origin", "request from another origin")
        pending = await auth.pending_sign_in_for(request.cookies.get(auth.PENDING_COOKIE))
        if pending is None:
            return api_error(401, "unauthenticated", "open a sign-in link first")
        valid, locked_for = await check_second_factor(pending.user.id, await _submitted_code())
        if locked_for is not None:
            return too_many_attempts(locked_for, html=wants_html)
        if not valid:
            if wants_html:
                return _form("That code is wrong or already used. Try again.", 401)
            return api_error(401, "wrong_code", "that code is wrong or already used")
        await PendingSignIn.filter(token_hash=hash_token(request.cookies[auth.PENDING_COOKIE])).delete()
        session_token, csrf = await auth.start_web_session(pending.user, pending.user_agent or user_agent())
        response = redirect("/", code=303) if wants_html else jsonify({"ok": True})
        set_session_cookies(response, session_token, csrf)
        response.delete_cookie(auth.PENDING_COOKIE, path="/auth/")
        return response

    @blueprint.get("/api/totp")
    @login_required
    async def totp_status() -> Any:
        user = await current_user()
        assert user is not None
        enrolled = await totp.is_enrolled(user.id)
        left = await totp.recovery_codes_left(user.id) if enrolled else 0
        return jsonify({"enrolled": enrolled, "recovery_codes_left": left})

    @blueprint.post("/api/totp/enrol")
    @csrf_protected
    async def totp_enrol() -> Any:
        user = await current_user()
        assert user is not None
        if await totp.is_enrolled(user.id):
            return api_error(409, "already_enrolled", "TOTP is already on; disable it first to enrol a new app")
        uri = await totp.start_enrolment(user, _server_secret())
        # The only time the seed leaves the server; confirm with a code to switch the second factor on.
        return jsonify({"otpauth_uri": uri})

    @blueprint.post("/api/totp/confirm")
    @csrf_protected
    async def totp_confirm() -> Any:
        user = await current_user()
        assert user is not None
        if await totp.is_enrolled(user.id):
            return api_error(409, "already_enrolled", "TOTP is already on")
        valid, locked_for = await check_second_factor(user.id, await _submitted_code(), enrolling=True)
        if locked_for is not None:
            return too_many_attempts(locked_for)
        if not valid:
            return api_error(400, "wrong_code", "that code does not match; check the app's clock and try again")
        codes = await totp.new_recovery_codes(user)
        return jsonify({"enrolled": True, "recovery_codes": codes})

    @blueprint.post("/api/totp/disable")
    @csrf_protected
    async def totp_disable() -> Any:
        user = await current_user()
        assert user is not None
        if not await totp.is_enrolled(user.id):
            return api_error(409, "not_enrolled", "TOTP is not on")
        valid, locked_for = await check_second_factor(user.id, await _submitted_code())
        if locked_for is not None:
            return too_many_attempts(locked_for)
        if not valid:
            return api_error(400, "wrong_code", "a current TOTP code or an unused recovery code is needed")
        await totp.disable(user.id)
        return jsonify({"enrolled": False})
