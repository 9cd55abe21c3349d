"""Ending a browser session or revoking an API key also ends what it already holds: its unspent WebSocket tickets
are refused and the /ws/client sockets its tickets opened close (4401) within a second, while the user's other
browsers stay connected. Real Hypercorn over loopback; tickets minted over HTTP exactly as the web client does."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from imcodes_server import auth
from imcodes_server.api_keys import create_api_key
from imcodes_server.models import User, WebSession, WsTicket, hash_token
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.postgres

CLOSE_WITHIN = 1.0


@dataclass
class Credential:
    """A signed-in browser (cookie + CSRF token) or a script's API key, talking to the served app over HTTP."""

    served: Any
    session_token: str | None = None
    csrf: str | None = None
    api_key: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Origin": self.served.origin}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key}"
        else:
            headers["Cookie"] = f"{auth.SESSION_COOKIE}={self.session_token}; {auth.CSRF_COOKIE}={self.csrf}"
            headers["X-CSRF-Token"] = self.csrf or ""
        return headers

    async def post(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.served.origin, trust_env=False) as http:
            return await http.post(path, headers=self.headers())

    async def ticket(self) -> str:
        minted = await self.post("/api/ws-ticket")
        assert minted.status_code == 200, minted.text
        return str(minted.json()["ticket"])

    async def session_id(self) -> int:
        assert self.session_token is not None
        return int((await WebSession.get(token_hash=hash_token(self.session_token))).id)


async def signed_in(served: Any, user: User) -> Credential:
    token, csrf = await auth.start_web_session(user, "test browser")
    return Credential(served, session_token=token, csrf=csrf)


async def with_key(served: Any, user: User) -> tuple[Credential, int]:
    secret, row = await create_api_key(user, "script", {"sessions"})
    return Credential(served, api_key=secret), int(row.id)


async def open_socket(served: Any, ticket: str) -> ClientConnection:
    ws = await connect(f"{served.ws_url}/ws/client?ticket={ticket}", origin=served.origin, proxy=None)  # type: ignore[arg-type]
    first = await asyncio.wait_for(ws.recv(), 5)
    assert '"machines"' in str(first)
    return ws


async def closed_code(ws: ClientConnection, within: float = CLOSE_WITHIN) -> int:
    """The close code the server sends within `within` seconds (fails if the socket stays open)."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None, "closed without a close frame from the server"
    return closed.value.rcvd.code


async def still_open(peers: Any, ws: ClientConnection) -> None:
    await ws.send(peers.frame("ping", t=42.0))
    assert (await peers.next_frame(ws, "pong", within=3))["t"] == 42.0


async def refused(served: Any, ticket: str) -> None:
    with pytest.raises(InvalidStatus) as refusal:
        await connect(f"{served.ws_url}/ws/client?ticket={ticket}", origin=served.origin, proxy=None)  # type: ignore[arg-type]
    assert refusal.value.response.status_code == 403


async def act_and_expect_close(action: Any, doomed: list[ClientConnection]) -> None:
    """Run the HTTP action while already waiting for the sockets to close; each must close 4401 within 1 s."""
    started = time.monotonic()
    waits = [asyncio.create_task(closed_code(ws, CLOSE_WITHIN + 2)) for ws in doomed]
    response = await action()
    assert response.status_code == 200, response.text
    answered = time.monotonic()
    codes = await asyncio.gather(*waits)
    took = time.monotonic() - answered
    assert codes == [4401] * len(doomed)
    assert took < CLOSE_WITHIN, f"sockets closed {took:.2f}s after the answer ({answered - started:.2f}s request)"


async def test_revoking_a_browser_closes_its_sockets_and_refuses_its_unspent_ticket(peers, served) -> None:
    user = await peers.user()
    doomed, keeper = await signed_in(served, user), await signed_in(served, user)
    doomed_sockets = [await open_socket(served, await doomed.ticket()) for _ in range(2)]
    keeper_socket = await open_socket(served, await keeper.ticket())
    other_user_socket, _ = await peers.browser(await peers.user("someone-else"))
    unspent = await doomed.ticket()
    doomed_id = await doomed.session_id()

    await act_and_expect_close(lambda: keeper.post(f"/api/devices/web/{doomed_id}/revoke"), doomed_sockets)

    await refused(served, unspent)
    await still_open(peers, keeper_socket)
    await still_open(peers, other_user_socket)
    assert sum(len(group) for group in served.hub.browsers.values()) == 2


async def test_signing_out_closes_that_browsers_sockets_only(peers, served) -> None:
    user = await peers.user()
    leaving, staying = await signed_in(served, user), await signed_in(served, user)
    leaving_socket = await open_socket(served, await leaving.ticket())
    staying_socket = await open_socket(served, await staying.ticket())
    unspent = await leaving.ticket()

    await act_and_expect_close(lambda: leaving.post("/auth/logout"), [leaving_socket])

    await refused(served, unspent)
    await still_open(peers, staying_socket)
    reopened = await open_socket(served, await staying.ticket())  # the other browser may still connect
    await still_open(peers, reopened)


async def test_signing_out_everywhere_closes_every_browser_socket_but_not_key_sockets(peers, served) -> None:
    user = await peers.user()
    first, second = await signed_in(served, user), await signed_in(served, user)
    script, _ = await with_key(served, user)
    browser_sockets = [await open_socket(served, await browser.ticket()) for browser in (first, second)]
    script_socket = await open_socket(served, await script.ticket())
    other_user_socket, _ = await peers.browser(await peers.user("someone-else"))

    await act_and_expect_close(lambda: first.post("/auth/logout-everywhere"), browser_sockets)

    # the key was not revoked (signing out ends browser sessions), so its socket is still a valid one
    await still_open(peers, script_socket)
    await still_open(peers, other_user_socket)


async def test_revoking_an_api_key_closes_its_sockets_and_refuses_its_unspent_ticket(peers, served) -> None:
    user = await peers.user()
    browser = await signed_in(served, user)
    doomed, doomed_id = await with_key(served, user)
    kept, _ = await with_key(served, user)
    doomed_socket = await open_socket(served, await doomed.ticket())
    kept_socket = await open_socket(served, await kept.ticket())
    browser_socket = await open_socket(served, await browser.ticket())
    unspent = await doomed.ticket()

    await act_and_expect_close(lambda: browser.post(f"/api/keys/{doomed_id}/revoke"), [doomed_socket])

    await refused(served, unspent)
    await still_open(peers, kept_socket)
    await still_open(peers, browser_socket)


async def test_tickets_remember_their_credential_and_die_with_it(peers, served) -> None:
    user = await peers.user()
    browser = await signed_in(served, user)
    script, key_id = await with_key(served, user)
    browser_ticket, script_ticket = await browser.ticket(), await script.ticket()
    session_id = await browser.session_id()
    stored = {row.ticket_hash: row for row in await WsTicket.filter(user_id=user.id)}
    assert stored[hash_token(browser_ticket)].web_session_id == session_id  # type: ignore[attr-defined]
    assert stored[hash_token(browser_ticket)].api_key_id is None  # type: ignore[attr-defined]
    assert stored[hash_token(script_ticket)].api_key_id == key_id  # type: ignore[attr-defined]
    assert stored[hash_token(script_ticket)].web_session_id is None  # type: ignore[attr-defined]

    # a browser session that expired (not deleted) refuses its unspent ticket
    await WebSession.filter(id=session_id).update(expires_at=auth.now() - timedelta(seconds=1))
    assert await auth.ticket_grant(browser_ticket) is None
    # a live key's ticket grants the user and names the key; the grant dies with the key
    grant = await auth.ticket_grant(script_ticket)
    assert grant is not None and grant.user.id == user.id and grant.api_key_id == key_id
    assert await auth.grant_alive(grant)
    assert (await browser.post(f"/api/keys/{key_id}/revoke")).status_code == 401  # that browser's session expired
    fresh = await signed_in(served, user)
    assert (await fresh.post(f"/api/keys/{key_id}/revoke")).status_code == 200
    assert not await auth.grant_alive(grant)
