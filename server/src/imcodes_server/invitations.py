"""Invitations: the owner makes a one-time link; following it with a display name creates a non-owner account.

The link carries 256 random bits (only the SHA-256 hash is stored), lives 7 days, is spent once (row locked
`FOR UPDATE`, `used_at` set in the same transaction that creates the user) and can be withdrawn by the owner.
`/auth/invite/<token>` is rate limited per IP (method `invite`): a locked address is refused before the link is
looked at. A new user owns nothing: every query filters by owner, so they see none of the owner's machines.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime, timedelta
from typing import Any

from quart import Blueprint, Response, current_app, jsonify, redirect, request
from tortoise.transactions import in_transaction

from imcodes_server import auth, ratelimit
from imcodes_server.models import User, hash_token, new_token
from imcodes_server.models_accounts import Invitation
from imcodes_server.routes_auth import (
    api_error,
    client_ip,
    csrf_protected,
    current_user,
    json_body,
    login_required,
    set_session_cookies,
    user_agent,
)

_logger = logging.getLogger("imcodes.server.invitations")

INVITATION_TTL = timedelta(days=7)
MAX_PENDING = 50  # open invitations per owner

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>imcodes: invitation</title></head>
<body>
<h1>imcodes</h1>
<p>{message}</p>
{form}
</body></html>
"""
_FORM = """<form method="post" action="/auth/invite/{token}">
<label>Your name, as others on this server will see it
<input name="name" maxlength="120" autocomplete="name" autofocus required></label>
<button type="submit">Create my account</button>
</form>"""


def _page(message: str, status: int, token: str | None = None) -> Response:
    form = _FORM.format(token=html.escape(token, quote=True)) if token else ""
    body = _PAGE.format(message=html.escape(message), form=form)
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    # Under the app-wide no-referrer policy Chromium sends `Origin: null` with this page's form POST, which the
    # origin check refuses ("sent from another site"); same-origin still sends nothing to other sites.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def invitation_state(row: Invitation) -> str:
    if row.used_at is not None:
        return "used"
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= auth.now():
        return "expired"
    return "pending"


def invitation_to_dict(row: Invitation, used_by_name: str | None = None) -> dict[str, Any]:
    # Never the hash: the link itself is shown once, when it is made.
    return {
        "id": row.id,
        "note": row.note,
        "state": invitation_state(row),
        "created_at": _iso(row.created_at),
        "expires_at": _iso(row.expires_at),
        "used_at": _iso(row.used_at),
        "used_by": used_by_name,
    }


async def mint_invitation(owner: User, note: str = "") -> tuple[str, Invitation]:
    token = new_token()
    row = await Invitation.create(
        created_by=owner, token_hash=hash_token(token), note=note, expires_at=auth.now() + INVITATION_TTL
    )
    return token, row


async def redeem_invitation(token: str, name: str) -> User | None:
    """Create the invited user and spend the link (once); None when unknown, used, revoked or expired."""
    async with in_transaction():
        row = (
            await Invitation.filter(
                token_hash=hash_token(token), used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=auth.now()
            )
            .select_for_update()
            .first()
        )
        if row is None:
            return None
        user = await User.create(name=name, is_owner=False)
        row.used_at = auth.now()
        row.used_by_id = user.id  # type: ignore[attr-defined]
        await row.save(update_fields=["used_at", "used_by_id"])
        return user


def _why_refused(row: Invitation | None) -> tuple[str, int]:
    state = "unknown" if row is None else invitation_state(row)
    messages = {
        "unknown": ("This invitation link is unknown. Check that you copied all of it.", 404),
        "used": ("This invitation has already been used. Ask the owner for a new one.", 410),
        "revoked": ("This invitation was withdrawn by the owner. Ask them for a new one.", 410),
        "expired": ("This invitation has expired (they last 7 days). Ask the owner for a new one.", 410),
    }
    return messages.get(state, messages["unknown"])


def _clean_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    name = "".join(ch for ch in value if ch.isprintable()).strip()
    return name if 0 < len(name) <= 120 else None


def _locked_page(retry_after: int) -> Response:
    minutes = max(1, round(retry_after / 60))
    response = _page(f"Too many wrong invitation links from this address. Try again in about {minutes} min.", 429)
    response.headers["Retry-After"] = str(retry_after)
    return response


async def _owner() -> User | None:
    user = await current_user()
    return user if user is not None and user.is_owner else None


def register_invitation_routes(blueprint: Blueprint) -> None:
    @blueprint.get("/api/invitations")
    @login_required
    async def list_invitations() -> Any:
        owner = await _owner()
        if owner is None:
            return api_error(403, "owner_only", "only the owner can invite people")
        rows = await Invitation.filter(created_by_id=owner.id).order_by("-created_at", "-id")
        used_ids = [row.used_by_id for row in rows if row.used_by_id is not None]  # type: ignore[attr-defined]
        used_by = {user.id: user.name for user in await User.filter(id__in=used_ids)}
        listed = [invitation_to_dict(row, used_by.get(row.used_by_id)) for row in rows]  # type: ignore[attr-defined]
        return jsonify({"invitations": listed})

    @blueprint.post("/api/invitations")
    @csrf_protected
    async def new_invitation() -> Any:
        owner = await _owner()
        if owner is None:
            return api_error(403, "owner_only", "only the owner can invite people")
        body = await json_body()
        note = body.get("note", "") if isinstance(body, dict) else ""
        note = "".join(ch for ch in note if ch.isprintable()).strip()[:120] if isinstance(note, str) else ""
        pending = await Invitation.filter(
            created_by_id=owner.id, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=auth.now()
        ).count()
        if pending >= MAX_PENDING:
            return api_error(409, "too_many_invitations", f"withdraw an invitation first: at most {MAX_PENDING} open")
        token, row = await mint_invitation(owner, note)
        _logger.info("owner %s made invitation %s", owner.id, row.id)
        origin = current_app.config["IMCODES"].origin
        # The only time the link leaves the server.
        return jsonify({"url": f"{origin}/auth/invite/{token}", "invitation": invitation_to_dict(row)})

    @blueprint.post("/api/invitations/<int:invitation_id>/revoke")
    @csrf_protected
    async def revoke_invitation(invitation_id: int) -> Any:
        owner = await _owner()
        if owner is None:
            return api_error(403, "owner_only", "only the owner can invite people")
        if not 0 < invitation_id < 2**31:
            return api_error(404, "not_found", "no such invitation")
        row = await Invitation.get_or_none(id=invitation_id, created_by_id=owner.id)
        if row is None:
            return api_error(404, "not_found", "no such invitation")
        if row.used_at is not None:
            return api_error(409, "already_used", "this invitation was already used")
        if row.revoked_at is None:
            row.revoked_at = auth.now()
            await Invitation.filter(id=row.id).update(revoked_at=row.revoked_at)
        return jsonify({"ok": True, "invitation": invitation_to_dict(row)})

    @blueprint.get("/auth/invite/<token>")
    async def open_invitation(token: str) -> Any:
        names = ratelimit.buckets(ratelimit.INVITE, client_ip())
        locked_for = await ratelimit.retry_after(names)
        if locked_for is not None:
            return _locked_page(locked_for)
        row = await Invitation.get_or_none(token_hash=hash_token(token))
        if row is None or invitation_state(row) != "pending":
            await ratelimit.record_failure(names)
            return _page(*_why_refused(row))
        return _page("You are invited to this imcodes server. Choose the name others will see.", 200, token)

    @blueprint.post("/auth/invite/<token>")
    async def accept_invitation(token: str) -> Any:
        # Not cookie-authenticated (the link is the credential); a page of another origin is refused so it cannot
        # sign a visitor into an account of its choosing.
        origin = request.headers.get("Origin")
        if origin is not None and not auth.origin_allowed(origin, current_app.config["IMCODES"]):
            return _page("This form was sent from another site.", 403)
        form = await request.form
        name = _clean_name(form.get("name"))
        if name is None:
            return _page("Enter a name of 1 to 120 characters.", 400, token)
        names = ratelimit.buckets(ratelimit.INVITE, client_ip())
        try:
            reserved = await ratelimit.reserve(names)
        except ratelimit.LockedOutError as locked:
            return _locked_page(locked.retry_after)
        user = await redeem_invitation(token, name)
        if user is None:
            return _page(*_why_refused(await Invitation.get_or_none(token_hash=hash_token(token))))
        await ratelimit.succeeded(reserved, names)
        _logger.info("invited user %s created", user.id)
        # This browser may be signed in as someone else: that session ends, it becomes the new user's browser.
        previous = request.cookies.get(auth.SESSION_COOKIE)
        if previous:
            await auth.end_web_session(previous)
        session_token, csrf = await auth.start_web_session(user, user_agent())
        response = redirect("/")
        set_session_cookies(response, session_token, csrf)
        return response
