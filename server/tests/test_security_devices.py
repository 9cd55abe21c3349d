"""Devices: the user's browsers and machines with last use, each revocable; sign-out everywhere. Every route is also
tried without credentials, without CSRF and as another user."""

from __future__ import annotations

from datetime import timedelta

import pytest
from imcodes_server import auth
from imcodes_server.models import Machine, WebSession, hash_token

pytestmark = pytest.mark.postgres


async def _second_browser(app, sign_in, me):
    """Sign the same user in from another browser (a second web session)."""
    other = app.test_client()
    token = await auth.mint_login_link(me.user)
    assert (await other.get(f"/auth/link/{token}", headers={"User-Agent": "PhoneBrowser/1.0"})).status_code == 302
    return other


async def test_devices_lists_own_browsers_and_machines_without_secrets(app, client, sign_in) -> None:
    assert (await client.get("/api/devices")).status_code == 401
    alice = await sign_in(name="alice")
    phone = await _second_browser(app, sign_in, alice)
    bob = await sign_in(name="bob", owner=False)
    alice_token = await auth.pair_machine(alice.user, "m-alice", "alice-box")
    await auth.pair_machine(bob.user, "m-bob", "bob-box")
    await Machine.filter(id="m-alice").update(last_seen=auth.now())

    listed = await (await alice.client.get("/api/devices")).get_json()
    sessions = listed["web_sessions"]
    assert len(sessions) == 2
    assert [s["current"] for s in sessions].count(True) == 1
    assert {s["user_agent"] for s in sessions} >= {"PhoneBrowser/1.0"}
    assert all(s["last_used_at"] for s in sessions)
    assert [m["id"] for m in listed["machines"]] == ["m-alice"]
    assert listed["machines"][0]["last_seen"] is not None
    text = str(listed)
    assert alice_token not in text and hash_token(alice_token) not in text and alice.csrf not in text
    assert "m-bob" not in text and "bob-box" not in text
    bob_sessions = await WebSession.filter(user_id=bob.user.id).values_list("id", flat=True)
    assert not {s["id"] for s in sessions} & set(bob_sessions)
    assert (await phone.get("/api/me")).status_code == 200


async def test_last_use_is_tracked(sign_in) -> None:
    me = await sign_in()
    stale = auth.now() - timedelta(hours=3)
    await WebSession.filter(user_id=me.user.id).update(last_used_at=stale)
    assert (await me.client.get("/api/me")).status_code == 200
    row = await WebSession.get(user_id=me.user.id)
    assert row.last_used_at is not None and row.last_used_at > stale + timedelta(hours=2)


async def test_revoke_a_browser(app, client, sign_in) -> None:
    alice = await sign_in(name="alice")
    phone = await _second_browser(app, sign_in, alice)
    bob = await sign_in(name="bob", owner=False)
    phone_id = (await WebSession.filter(user_id=alice.user.id).order_by("-id").first()).id

    url = f"/api/devices/web/{phone_id}/revoke"
    assert (await client.post(url)).status_code == 401
    assert (await alice.client.post(url)).status_code == 403  # no CSRF token
    as_bob = await bob.client.post(url, headers=bob.headers())
    assert as_bob.status_code == 404  # another user's id looks like a missing one
    assert (await phone.get("/api/me")).status_code == 200

    revoked = await alice.client.post(url, headers=alice.headers())
    assert revoked.status_code == 200 and (await revoked.get_json())["current"] is False
    assert (await phone.get("/api/me")).status_code == 401
    assert (await alice.client.get("/api/me")).status_code == 200
    assert (await alice.client.post(url, headers=alice.headers())).status_code == 404
    assert (await bob.client.get("/api/me")).status_code == 200


async def test_revoke_a_machine_kills_its_token(client, sign_in) -> None:
    alice = await sign_in(name="alice")
    bob = await sign_in(name="bob", owner=False)
    token = await auth.pair_machine(alice.user, "m-alice", "alice-box")
    url = "/api/machines/m-alice/revoke"
    assert (await client.post(url)).status_code == 401
    assert (await alice.client.post(url)).status_code == 403
    assert (await bob.client.post(url, headers=bob.headers())).status_code == 404
    assert (await bob.client.post("/api/machines/no-such/revoke", headers=bob.headers())).status_code == 404
    assert await auth.machine_for_token(token) is not None

    response = await alice.client.post(url, headers=alice.headers())
    assert response.status_code == 200
    body = await response.get_json()
    assert body["machine"]["revoked"] is True and token not in str(body)
    assert await auth.machine_for_token(token) is None
    assert (await Machine.get(id="m-alice")).revoked_at is not None
    listed = await (await alice.client.get("/api/devices")).get_json()
    assert listed["machines"][0]["revoked"] is True


async def test_logout_everywhere(app, client, sign_in) -> None:
    alice = await sign_in(name="alice")
    phone = await _second_browser(app, sign_in, alice)
    bob = await sign_in(name="bob", owner=False)
    await auth.mint_ws_ticket(alice.user)
    assert (await client.post("/auth/logout-everywhere")).status_code == 401
    assert (await alice.client.post("/auth/logout-everywhere")).status_code == 403

    response = await alice.client.post("/auth/logout-everywhere", headers=alice.headers())
    assert response.status_code == 200 and (await response.get_json())["sessions_ended"] == 2
    assert (await alice.client.get("/api/me")).status_code == 401
    assert (await phone.get("/api/me")).status_code == 401
    assert await WebSession.filter(user_id=alice.user.id).count() == 0
    assert (await bob.client.get("/api/me")).status_code == 200
    cookies = " ".join(response.headers.get_all("Set-Cookie"))
    assert f"{auth.SESSION_COOKIE}=;" in cookies
