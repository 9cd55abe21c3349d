"""Sign-in links, sessions, CSRF/Origin checks and WebSocket tickets against a real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from imcodes_server import auth
from imcodes_server.models import LoginLink, Machine, User, WsTicket, hash_token

pytestmark = pytest.mark.postgres

ORIGIN = "http://127.0.0.1:8787"


async def test_unauthenticated_requests_are_refused_everywhere(client) -> None:
    assert (await client.get("/api/me")).status_code == 401
    assert (await client.post("/api/ws-ticket")).status_code == 401
    assert (await client.post("/auth/logout")).status_code == 401
    page = await client.get("/")
    assert page.status_code == 401
    assert "imcodes login-link" in await page.get_data(as_text=True)
    assert (await client.get("/api/health")).status_code == 200


async def test_sign_in_link_works_once(client) -> None:
    owner = await User.create(name="owner", is_owner=True)
    token = await auth.mint_login_link(owner)
    first = await client.get(f"/auth/link/{token}")
    assert first.status_code == 302 and first.headers["Location"] == "/"
    cookies = first.headers.get_all("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("imcodes_session="))
    csrf_cookie = next(c for c in cookies if c.startswith("imcodes_csrf="))
    assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
    assert "Secure" not in session_cookie  # plain http origin
    assert "HttpOnly" not in csrf_cookie
    me = await client.get("/api/me")
    assert (await me.get_json())["user"] == {"id": owner.id, "name": "owner", "owner": True}

    other_browser = client.app.test_client()
    again = await other_browser.get(f"/auth/link/{token}")
    assert again.status_code == 403
    assert (await other_browser.get("/api/me")).status_code == 401
    # Only the hash is stored.
    assert await LoginLink.filter(token_hash=token).count() == 0
    assert await LoginLink.filter(token_hash=hash_token(token)).count() == 1


async def test_expired_and_unknown_sign_in_links_are_refused(client) -> None:
    owner = await User.create(name="owner", is_owner=True)
    token = await auth.mint_login_link(owner)
    await LoginLink.filter(token_hash=hash_token(token)).update(expires_at=auth.now() - timedelta(seconds=1))
    assert (await client.get(f"/auth/link/{token}")).status_code == 403
    assert (await client.get("/auth/link/not-a-real-token")).status_code == 403
    assert (await client.get("/api/me")).status_code == 401


async def test_secure_cookie_when_origin_is_https(app, database, tmp_path) -> None:
    from dataclasses import replace

    from imcodes_server.app import create_app

    https_app = create_app(replace(app.config["IMCODES"], public_origin="https://codes.example"), database=database)
    owner = await User.create(name="owner", is_owner=True)
    token = await auth.mint_login_link(owner)
    response = await https_app.test_client().get(f"/auth/link/{token}")
    assert all("Secure" in cookie for cookie in response.headers.get_all("Set-Cookie"))
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_ws_ticket_needs_csrf_header_and_our_origin(sign_in) -> None:
    me = await sign_in()
    assert (await me.client.post("/api/ws-ticket")).status_code == 403
    wrong = await me.client.post("/api/ws-ticket", headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    foreign = await me.client.post("/api/ws-ticket", headers=me.headers(Origin="http://evil.example"))
    assert foreign.status_code == 403
    assert (await foreign.get_json())["error"]["code"] == "bad_origin"
    ok = await me.client.post("/api/ws-ticket", headers=me.headers(Origin=ORIGIN))
    assert ok.status_code == 200
    ticket = (await ok.get_json())["ticket"]
    assert await WsTicket.filter(ticket_hash=ticket).count() == 0  # only the hash is stored
    no_origin = await me.client.post("/api/ws-ticket", headers=me.headers())
    assert no_origin.status_code == 200


async def test_another_users_csrf_token_does_not_work(sign_in) -> None:
    alice = await sign_in(name="alice")
    bob = await sign_in(name="bob", owner=False)
    response = await alice.client.post("/api/ws-ticket", headers={"X-CSRF-Token": bob.csrf})
    assert response.status_code == 403
    bob_me = await (await bob.client.get("/api/me")).get_json()
    assert bob_me["user"]["name"] == "bob" and bob_me["user"]["owner"] is False


async def test_ticket_is_single_use_and_expires(sign_in) -> None:
    me = await sign_in()
    ticket = (await (await me.client.post("/api/ws-ticket", headers=me.headers())).get_json())["ticket"]
    user = await auth.user_for_ticket(ticket)
    assert user is not None and user.id == me.user.id
    assert await auth.user_for_ticket(ticket) is None
    assert await auth.user_for_ticket("") is None

    stale = await auth.mint_ws_ticket(me.user)
    await WsTicket.filter(ticket_hash=hash_token(stale)).update(expires_at=auth.now() - timedelta(seconds=1))
    assert await auth.user_for_ticket(stale) is None
    fresh = await auth.mint_ws_ticket(me.user)
    row = await WsTicket.get(ticket_hash=hash_token(fresh))
    lifetime = row.expires_at - auth.now()
    assert timedelta(seconds=10) < lifetime <= timedelta(seconds=15)


async def test_logout_needs_csrf_and_ends_the_session(sign_in) -> None:
    me = await sign_in()
    assert (await me.client.post("/auth/logout")).status_code == 403
    assert (await me.client.get("/api/me")).status_code == 200
    assert (await me.client.post("/auth/logout", headers=me.headers())).status_code == 200
    assert (await me.client.get("/api/me")).status_code == 401


async def test_machine_tokens_rotate_and_revoke(app) -> None:
    owner = await auth.ensure_owner()
    assert (await auth.ensure_owner()).id == owner.id
    first = await auth.pair_machine(owner, "m-1", "box")
    machine = await auth.machine_for_token(first)
    assert machine is not None and machine.id == "m-1" and machine.hostname == "box"
    second = await auth.pair_machine(owner, "m-1", "box2")
    assert await auth.machine_for_token(first) is None
    assert (await auth.machine_for_token(second)).hostname == "box2"
    await Machine.filter(id="m-1").update(revoked_at=auth.now())
    assert await auth.machine_for_token(second) is None
    assert await auth.machine_for_token("") is None


def test_origin_allowed_is_exact(config) -> None:
    assert auth.origin_allowed(ORIGIN, config)
    assert not auth.origin_allowed(None, config)
    assert not auth.origin_allowed("http://localhost:8787", config)
    assert not auth.origin_allowed("http://127.0.0.1:8787.evil.example", config)
    assert not auth.origin_allowed("https://127.0.0.1:8787", config)


async def test_machines_list_shows_only_your_own_and_no_secrets(client, sign_in) -> None:
    assert (await client.get("/api/machines")).status_code == 401
    alice = await sign_in(name="alice")
    bob = await sign_in(name="bob", owner=False)
    token = await auth.pair_machine(alice.user, "m-alice", "alice-box")
    await auth.pair_machine(bob.user, "m-bob", "bob-box")
    listed = await (await alice.client.get("/api/machines")).get_json()
    assert [machine["id"] for machine in listed["machines"]] == ["m-alice"]
    assert token not in str(listed) and hash_token(token) not in str(listed)
    bobs = await (await bob.client.get("/api/machines")).get_json()
    assert [machine["id"] for machine in bobs["machines"]] == ["m-bob"]
