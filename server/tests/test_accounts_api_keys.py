"""API keys: shown once, stored as SHA-256 hashes, scoped, revocable at once, last use recorded; accepted only on the
routes in api_keys.ROUTE_SCOPES (no CSRF for a bearer key), refused on cookie-only routes; never in the logs."""

from __future__ import annotations

import logging

import pytest
from imcodes_server import auth
from imcodes_server.api_keys import ROUTE_SCOPES, SCOPES
from imcodes_server.models import Machine, hash_token
from imcodes_server.models_accounts import ApiKey

from imcodes_core.redaction import MASK, redact

pytestmark = pytest.mark.postgres


async def _make_key(me, scopes: list[str], name: str = "ci script") -> tuple[str, dict]:
    response = await me.client.post("/api/keys", json={"name": name, "scopes": scopes}, headers=me.headers())
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    return body["key"], body["api_key"]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_key_routes_need_a_signed_in_browser_with_csrf(app, client, sign_in) -> None:
    for method, url in (("GET", "/api/keys"), ("POST", "/api/keys"), ("POST", "/api/keys/1/revoke")):
        assert (await client.open(url, method=method)).status_code == 401, url
    alice = await sign_in(name="alice")
    bob = await sign_in(name="bob", owner=False)
    key, made = await _make_key(alice, ["read"])
    for url, body in (("/api/keys", {"name": "x", "scopes": ["read"]}), (f"/api/keys/{made['id']}/revoke", None)):
        no_csrf = await alice.client.post(url, json=body)
        assert no_csrf.status_code == 403 and (await no_csrf.get_json())["error"]["code"] == "bad_csrf"
    # Another user neither sees nor revokes it: 404 like a missing id.
    assert (await (await bob.client.get("/api/keys")).get_json())["keys"] == []
    assert (await bob.client.post(f"/api/keys/{made['id']}/revoke", headers=bob.headers())).status_code == 404
    assert (await app.test_client().get("/api/me", headers=_bearer(key))).status_code == 200  # still works
    assert await ApiKey.filter(user_id=alice.user.id).count() == 1


async def test_a_key_is_shown_once_and_stored_hashed(sign_in) -> None:
    alice = await sign_in(name="alice")
    for bad in ({}, {"name": "", "scopes": ["read"]}, {"name": "x", "scopes": []}, {"name": "x", "scopes": ["root"]}):
        response = await alice.client.post("/api/keys", json=bad, headers=alice.headers())
        assert response.status_code == 400, bad
    key, made = await _make_key(alice, ["sessions", "read"])
    assert key.startswith("imk_") and len(key) > 40
    row = await ApiKey.get(id=made["id"])
    assert row.key_hash == hash_token(key) and key not in (row.prefix, row.scopes, row.name)
    assert made["scopes"] == ["read", "sessions"] and made["prefix"] == key[:8] and made["last_used_at"] is None
    listed = await (await alice.client.get("/api/keys")).get_data(as_text=True)
    assert key not in listed and row.key_hash not in listed
    assert set((await (await alice.client.get("/api/keys")).get_json())["scopes"]) == set(SCOPES)


async def test_scopes_are_enforced(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    bob = await sign_in(name="bob", owner=False)
    await auth.pair_machine(alice.user, "m-alice", "alice-box")
    await auth.pair_machine(bob.user, "m-bob", "bob-box")
    reader, _ = await _make_key(alice, ["read"])
    driver, _ = await _make_key(alice, ["sessions"])
    admin, _ = await _make_key(alice, ["machines"])
    api = app.test_client()  # no cookies at all: the key is the only credential

    machines = await api.get("/api/machines", headers=_bearer(reader))
    assert [m["id"] for m in (await machines.get_json())["machines"]] == ["m-alice"]  # never bob's
    devices = await api.get("/api/devices", headers=_bearer(reader))
    assert devices.status_code == 200 and [m["id"] for m in (await devices.get_json())["machines"]] == ["m-alice"]
    assert (await (await api.get("/api/me", headers=_bearer(reader))).get_json())["user"]["name"] == "alice"
    for url in ("/api/ws-ticket", "/api/pairing-codes", "/api/machines/m-alice/revoke"):
        refused = await api.post(url, headers=_bearer(reader))
        assert refused.status_code == 403 and (await refused.get_json())["error"]["code"] == "insufficient_scope"

    ticket = await api.post("/api/ws-ticket", headers=_bearer(driver))  # a POST with no CSRF token: a bearer key
    assert ticket.status_code == 200 and (await ticket.get_json())["ticket"]
    assert (await api.get("/api/machines", headers=_bearer(driver))).status_code == 403

    assert (await api.post("/api/pairing-codes", headers=_bearer(admin))).status_code == 200
    assert (await api.post("/api/machines/m-bob/revoke", headers=_bearer(admin))).status_code == 404
    assert (await api.post("/api/machines/m-alice/revoke", headers=_bearer(admin))).status_code == 200
    assert (await Machine.get(id="m-alice")).revoked_at is not None
    assert (await Machine.get(id="m-bob")).revoked_at is None
    assert set(ROUTE_SCOPES.values()) == set(SCOPES)  # every scope opens something


async def test_cookie_only_routes_refuse_keys(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    key, made = await _make_key(alice, sorted(SCOPES))
    cookie_only = [
        ("GET", "/api/keys"),
        ("POST", "/api/keys"),
        ("POST", f"/api/keys/{made['id']}/revoke"),
        ("GET", "/api/invitations"),
        ("POST", "/api/invitations"),
        ("POST", "/auth/logout"),
        ("POST", "/auth/logout-everywhere"),
        ("GET", "/api/totp"),
    ]
    for method, url in cookie_only:
        # Even beside a valid cookie and CSRF token: a request that carries a key is judged by the key.
        for client, headers in ((app.test_client(), {}), (alice.client, alice.headers())):
            response = await client.open(url, method=method, headers={**headers, **_bearer(key)})
            assert response.status_code == 403, f"{method} {url}"
            assert (await response.get_json())["error"]["code"] == "cookie_only"
    assert await ApiKey.filter(user_id=alice.user.id).count() == 1
    assert (await ApiKey.get(id=made["id"])).revoked_at is None
    assert (await alice.client.get("/api/me")).status_code == 200  # not signed out


async def test_a_revoked_key_is_refused_at_once_and_last_use_is_recorded(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    key, made = await _make_key(alice, ["read"])
    api = app.test_client()
    assert (await api.get("/api/machines", headers=_bearer(key))).status_code == 200
    listed = (await (await alice.client.get("/api/keys")).get_json())["keys"]
    assert listed[0]["last_used_at"] is not None and listed[0]["revoked"] is False
    revoked = await alice.client.post(f"/api/keys/{made['id']}/revoke", headers=alice.headers())
    assert revoked.status_code == 200 and (await revoked.get_json())["api_key"]["revoked"] is True
    refused = await api.get("/api/machines", headers=_bearer(key))
    assert refused.status_code == 401 and (await refused.get_json())["error"]["code"] == "bad_api_key"
    garbage = await api.get("/api/machines", headers=_bearer("imk_" + "x" * 43))
    assert garbage.status_code == 401


async def test_keys_never_reach_the_logs(app, sign_in, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    alice = await sign_in(name="alice")
    key, made = await _make_key(alice, ["read"])
    api = app.test_client()
    await api.get("/api/machines", headers=_bearer(key))
    await api.post("/api/keys", headers=_bearer(key))
    await alice.client.post(f"/api/keys/{made['id']}/revoke", headers=alice.headers())
    await api.get("/api/machines", headers=_bearer(key))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "API key refused" in logged and f"revoked API key {made['id']}" in logged  # the log did see the events
    assert key not in logged and key[8:] not in logged
    # And should one ever be printed, the redaction filter masks its shape.
    assert redact(f"the key is {key}.") == f"the key is imk_{MASK}."
