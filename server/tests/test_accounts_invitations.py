"""Invitations: only the owner makes them; a link is stored hashed, works once, expires after 7 days, can be
withdrawn, is rate limited per IP; the invited person becomes a new non-owner user who sees none of the owner's
machines, over HTTP and over /ws/client."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from imcodes_server import auth, ratelimit
from imcodes_server.models import User, hash_token
from imcodes_server.models_accounts import Invitation

pytestmark = pytest.mark.postgres

NEWCOMER_IP = "198.51.100.7"
ATTACKER = "203.0.113.66"


async def _invite(owner, note: str = "for carol") -> tuple[str, dict]:
    response = await owner.client.post("/api/invitations", json={"note": note}, headers=owner.headers())
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    return urlsplit(body["url"]).path, body["invitation"]


async def _accept(app, path: str, name: str = "Carol", ip: str = NEWCOMER_IP, client=None, **extra):
    client = client or app.test_client()
    response = await client.post(path, form={"name": name}, scope_base={"client": (ip, 5000)}, **extra)
    return client, response


async def test_only_the_owner_invites(app, client, sign_in) -> None:
    for method, url in (
        ("GET", "/api/invitations"),
        ("POST", "/api/invitations"),
        ("POST", "/api/invitations/1/revoke"),
    ):
        assert (await client.open(url, method=method)).status_code == 401, url
    owner = await sign_in(name="olga")
    member = await sign_in(name="bob", owner=False)
    _, made = await _invite(owner)
    assert (await member.client.get("/api/invitations")).status_code == 403
    refused = await member.client.post("/api/invitations", json={}, headers=member.headers())
    assert refused.status_code == 403 and (await refused.get_json())["error"]["code"] == "owner_only"
    revoke = f"/api/invitations/{made['id']}/revoke"
    assert (await member.client.post(revoke, headers=member.headers())).status_code == 403
    # Cookie POSTs need the CSRF token, even for the owner.
    for url in ("/api/invitations", revoke):
        no_csrf = await owner.client.post(url, json={})
        assert no_csrf.status_code == 403 and (await no_csrf.get_json())["error"]["code"] == "bad_csrf"
    # Another owner (a second account flagged owner) cannot see or withdraw the first owner's invitations.
    other = await sign_in(name="oscar")
    assert (await (await other.client.get("/api/invitations")).get_json())["invitations"] == []
    assert (await other.client.post(revoke, headers=other.headers())).status_code == 404
    assert (await Invitation.get(id=made["id"])).revoked_at is None
    assert await User.filter(is_owner=False).count() == 1  # only bob: nothing was created


async def test_an_invitation_makes_one_user_once(app, sign_in) -> None:
    owner = await sign_in(name="olga")
    await auth.pair_machine(owner.user, "m-olga", "olga-box")
    path, made = await _invite(owner)
    token = path.rsplit("/", 1)[1]
    assert made["state"] == "pending" and made["note"] == "for carol"
    row = await Invitation.get(id=made["id"])
    assert row.token_hash == hash_token(token)  # only the hash is stored
    assert timedelta(days=6, hours=23) < row.expires_at - auth.now() <= timedelta(days=7)
    listed = await (await owner.client.get("/api/invitations")).get_data(as_text=True)
    assert token not in listed and row.token_hash not in listed

    page = await app.test_client().get(path)
    assert page.status_code == 200
    assert 'name="name"' in await page.get_data(as_text=True)
    assert (await _accept(app, path, name="   "))[1].status_code == 400  # no name: the link is not spent

    carol, accepted = await _accept(app, path, name="Carol\x00 C")
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/"
    me = await (await carol.get("/api/me")).get_json()
    assert me["user"]["name"] == "Carol C" and me["user"]["owner"] is False
    assert (await (await carol.get("/api/machines")).get_json())["machines"] == []
    assert (await (await carol.get("/api/devices")).get_json())["machines"] == []
    assert (await carol.get("/api/invitations")).status_code == 403  # invited users cannot invite

    _, again = await _accept(app, path, name="Mallory")
    assert again.status_code == 410 and "already been used" in await again.get_data(as_text=True)
    reopened = await app.test_client().get(path)
    assert reopened.status_code == 410
    assert await User.filter(name="Mallory").count() == 0
    state = (await (await owner.client.get("/api/invitations")).get_json())["invitations"][0]
    assert state["state"] == "used" and state["used_by"] == "Carol C"
    used = await owner.client.post(f"/api/invitations/{made['id']}/revoke", headers=owner.headers())
    assert used.status_code == 409


async def test_expired_and_withdrawn_invitations_say_so(app, sign_in) -> None:
    owner = await sign_in(name="olga")
    expired_path, expired = await _invite(owner)
    await Invitation.filter(id=expired["id"]).update(expires_at=auth.now() - timedelta(seconds=1))
    _, response = await _accept(app, expired_path)
    assert response.status_code == 410 and "expired" in await response.get_data(as_text=True)

    withdrawn_path, withdrawn = await _invite(owner)
    revoked = await owner.client.post(f"/api/invitations/{withdrawn['id']}/revoke", headers=owner.headers())
    assert revoked.status_code == 200 and (await revoked.get_json())["invitation"]["state"] == "revoked"
    page = await app.test_client().get(withdrawn_path)
    assert page.status_code == 410 and "withdrawn" in await page.get_data(as_text=True)
    _, response = await _accept(app, withdrawn_path)
    assert response.status_code == 410
    unknown = await app.test_client().get("/auth/invite/not-a-real-invitation")
    assert unknown.status_code == 404 and "unknown" in await unknown.get_data(as_text=True)
    assert await User.filter(is_owner=False).count() == 0
    states = {
        row["id"]: row["state"]
        for row in (await (await owner.client.get("/api/invitations")).get_json())["invitations"]
    }
    assert states == {expired["id"]: "expired", withdrawn["id"]: "revoked"}


async def test_invitation_links_are_rate_limited_per_ip_and_origin_checked(app, sign_in) -> None:
    owner = await sign_in(name="olga")
    path, _ = await _invite(owner)
    _, foreign = await _accept(app, path, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    for attempt in range(ratelimit.MAX_FAILURES):
        _, wrong = await _accept(app, f"/auth/invite/guess-{attempt}", ip=ATTACKER)
        assert wrong.status_code == 404
    _, locked = await _accept(app, path, ip=ATTACKER)  # even the real link: the address is locked
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    page = await app.test_client().get(path, scope_base={"client": (ATTACKER, 5000)})
    assert page.status_code == 429
    assert await User.filter(is_owner=False).count() == 0
    _, elsewhere = await _accept(app, path)  # another address is unaffected
    assert elsewhere.status_code == 302


async def test_an_invited_user_gets_an_empty_machines_frame(app, sign_in) -> None:
    owner = await sign_in(name="olga")
    await auth.pair_machine(owner.user, "m-olga", "olga-box")
    path, _ = await _invite(owner)
    carol, accepted = await _accept(app, path)
    assert accepted.status_code == 302
    csrf = next(cookie.value for cookie in carol.cookie_jar if cookie.name == auth.CSRF_COOKIE)
    origin = app.config["IMCODES"].origin

    async def first_frame(client, csrf_token: str) -> dict:
        ticket = await (await client.post("/api/ws-ticket", headers={"X-CSRF-Token": csrf_token})).get_json()
        async with asyncio.timeout(5):
            async with app.test_client().websocket(
                f"/ws/client?ticket={ticket['ticket']}", headers={"Origin": origin}
            ) as ws:
                return dict(json.loads(await ws.receive()))

    carols = await first_frame(carol, csrf)
    assert carols["type"] == "machines" and carols["machines"] == []
    # Control: the same socket shows the owner their machine, so the empty list above is the filter at work.
    olgas = await first_frame(owner.client, owner.csrf)
    assert [machine["machine"] for machine in olgas["machines"]] == ["m-olga"]
