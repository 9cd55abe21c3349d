"""Sign-in links, browser sessions, CSRF, WebSocket tickets and machine tokens.

Functions the bridge uses (names are part of the contract): `user_for_ticket`, `machine_for_token`, `origin_allowed`,
and `ticket_grant` / `grant_alive` (the user plus the browser session or API key that minted the ticket, so the
socket can be closed when that credential is revoked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from imcodes_server.config import ServerConfig
from imcodes_server.models import (
    LoginLink,
    Machine,
    PendingSignIn,
    User,
    WebSession,
    WsTicket,
    hash_token,
    new_token,
)
from imcodes_server.models_accounts import ApiKey

SESSION_COOKIE = "imcodes_session"
CSRF_COOKIE = "imcodes_csrf"
LOGIN_LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(days=30)
TICKET_TTL = timedelta(seconds=15)
PENDING_COOKIE = "imcodes_pending"
PENDING_TTL = timedelta(minutes=5)
# last_used_at is for people reading the devices page: a minute's precision saves a write on every request.
SESSION_TOUCH_EVERY = timedelta(minutes=1)


def now() -> datetime:
    return datetime.now(UTC)


async def ensure_owner(name: str = "owner") -> User:
    owner = await User.filter(is_owner=True).order_by("id").first()
    if owner is None:
        owner = await User.create(name=name, is_owner=True)
    return owner


async def mint_login_link(user: User) -> str:
    """A one-time sign-in token for `user`, valid 10 minutes; only its hash is stored."""
    token = new_token()
    await LoginLink.create(user=user, token_hash=hash_token(token), expires_at=now() + LOGIN_LINK_TTL)
    return token


async def redeem_login_link(token: str) -> User | None:
    """Mark the link used (once) and return its user; None when unknown, used or expired."""
    async with in_transaction():
        link = (
            await LoginLink.filter(token_hash=hash_token(token), used_at__isnull=True, expires_at__gt=now())
            .select_for_update()
            .first()
        )
        if link is None:
            return None
        link.used_at = now()
        await link.save(update_fields=["used_at"])
        return await User.get(id=link.user_id)  # type: ignore[attr-defined]


async def start_web_session(user: User, user_agent: str = "") -> tuple[str, str]:
    """(session token, csrf token) for a freshly signed-in browser."""
    token, csrf = new_token(), new_token()
    await WebSession.create(
        user=user,
        token_hash=hash_token(token),
        csrf_token=csrf,
        expires_at=now() + SESSION_TTL,
        last_used_at=now(),
        user_agent=user_agent[:255],
    )
    return token, csrf


async def touch_web_session(session: WebSession) -> None:
    moment = now()
    if session.last_used_at is None or moment - session.last_used_at >= SESSION_TOUCH_EVERY:
        session.last_used_at = moment
        await WebSession.filter(id=session.id).update(last_used_at=moment)


async def end_all_web_sessions(user_id: int) -> int:
    """Sign the user out everywhere: every browser session, unspent WebSocket ticket and half-done sign-in."""
    async with in_transaction():
        ended = await WebSession.filter(user_id=user_id).delete()
        await WsTicket.filter(user_id=user_id).delete()
        await PendingSignIn.filter(user_id=user_id).delete()
    return ended


async def start_pending_sign_in(user: User, user_agent: str = "") -> str:
    """The link was good but the user has a second factor: a 5-minute token (cookie) for the code form."""
    token = new_token()
    await PendingSignIn.filter(expires_at__lt=now()).delete()
    await PendingSignIn.create(
        user=user, token_hash=hash_token(token), expires_at=now() + PENDING_TTL, user_agent=user_agent[:255]
    )
    return token


async def pending_sign_in_for(token: str | None) -> PendingSignIn | None:
    if not token:
        return None
    return (
        await PendingSignIn.filter(token_hash=hash_token(token), expires_at__gt=now()).select_related("user").first()
    )


async def revoke_machine(machine: Machine) -> None:
    """From now on the machine's token is refused (`machine_for_token` checks revoked_at)."""
    machine.revoked_at = now()
    await Machine.filter(id=machine.id).update(revoked_at=machine.revoked_at)


async def web_session_for(token: str | None) -> WebSession | None:
    if not token:
        return None
    return await WebSession.filter(token_hash=hash_token(token), expires_at__gt=now()).select_related("user").first()


async def end_web_session(token: str) -> None:
    await WebSession.filter(token_hash=hash_token(token)).delete()


@dataclass(frozen=True)
class TicketGrant:
    """What a spent WebSocket ticket lets in: the user, and the credential that minted it (None for both when the
    server minted it itself). The socket keeps these so revoking that credential closes it."""

    user: User
    web_session_id: int | None = None
    api_key_id: int | None = None


async def mint_ws_ticket(user: User, *, web_session: WebSession | None = None, api_key: ApiKey | None = None) -> str:
    """A single-use ticket for /ws/client, valid 15 s, bound to the browser session or API key asking for it."""
    ticket = new_token()
    await WsTicket.filter(expires_at__lt=now()).delete()  # keep the table small
    await WsTicket.create(
        user=user,
        ticket_hash=hash_token(ticket),
        expires_at=now() + TICKET_TTL,
        web_session=web_session,
        api_key=api_key,
    )
    return ticket


async def ticket_grant(ticket: str) -> TicketGrant | None:
    """Spend a ticket (single use, 15 s). None when unknown, used, expired, or its session/key is gone."""
    if not ticket:
        return None
    async with in_transaction():
        row = await WsTicket.filter(ticket_hash=hash_token(ticket)).select_for_update().first()
        if row is None:
            return None
        await row.delete()
        if row.expires_at <= now():
            return None
        grant_ids = (row.web_session_id, row.api_key_id)  # type: ignore[attr-defined]
        if not await _credential_alive(*grant_ids):
            return None
        user = await User.get_or_none(id=row.user_id)  # type: ignore[attr-defined]
        return None if user is None else TicketGrant(user, *grant_ids)


async def grant_alive(grant: TicketGrant) -> bool:
    """Still signed in / still a live key. The bridge asks once more after registering the socket, so a revocation
    racing the connect is seen either here or by the revocation's own sweep of open sockets."""
    return await _credential_alive(grant.web_session_id, grant.api_key_id)


async def _credential_alive(web_session_id: int | None, api_key_id: int | None) -> bool:
    if web_session_id is not None and not await WebSession.filter(id=web_session_id, expires_at__gt=now()).exists():
        return False
    return api_key_id is None or await ApiKey.filter(id=api_key_id, revoked_at__isnull=True).exists()


async def user_for_ticket(ticket: str) -> User | None:
    """The user a WebSocket ticket was minted for; the ticket is consumed (see `ticket_grant`)."""
    grant = await ticket_grant(ticket)
    return None if grant is None else grant.user


async def machine_for_token(token: str) -> Machine | None:
    """The machine a daemon token is bound to, unless revoked."""
    if not token:
        return None
    return await Machine.filter(token_hash=hash_token(token), revoked_at__isnull=True).first()


async def pair_machine(owner: User, machine_id: str, hostname: str) -> str:
    """Create or refresh the Machine row with a fresh token (the old token stops working); returns the token."""
    token = new_token()
    machine = await Machine.get_or_none(id=machine_id)
    if machine is None:
        await Machine.create(id=machine_id, owner=owner, hostname=hostname, token_hash=hash_token(token))
    else:
        machine.hostname = hostname
        machine.token_hash = hash_token(token)
        machine.revoked_at = None
        await machine.save(update_fields=["hostname", "token_hash", "revoked_at"])
    return token


def origin_allowed(origin: str | None, config: ServerConfig) -> bool:
    """Exact match with the server's own origin; browsers always send Origin on WebSocket upgrades."""
    return origin is not None and origin.rstrip("/") == config.origin
