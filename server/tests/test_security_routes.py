"""Every HTTP route registered on the app (app.url_map, so routes added later are covered too) is tried with no
credentials, a garbage session cookie, an expired session, a revoked session and as another user: all denied,
nothing of the victim's in the body, no stack trace, no 5xx. Every POST also needs the CSRF token. Every WebSocket
route is opened with no credentials, garbage, an expired ticket, a foreign Origin and a revoked daemon token: closed
before any data."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from imcodes_server import auth
from imcodes_server.models import Machine, WebSession, WsTicket, hash_token, new_token
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError

pytestmark = pytest.mark.postgres

DENIED = {401, 403, 404, 429}
# Routes anyone may call, and why. Everything else must refuse a request without a valid session.
PUBLIC = {
    "auth.health": "liveness probe, returns {ok: true}",
    "auth.follow_login_link": "the path token is the credential; unknown tokens get 403 (429 when repeated)",
    "web.static_file": "the web client's code and icons hold no secrets",
    "web.service_worker": "the PWA service worker script",
    "api.pair": "a daemon spends a one-time pairing code (the credential) from the body; rate limited per IP",
    "auth.open_invitation": "the path token is the credential; wrong links are counted per IP (429 when repeated)",
    "auth.accept_invitation": "the path token is the credential (creates a new user); rate limited per IP",
    "passkeys.sign_in_options": "a fresh single-use WebAuthn challenge for the sign-in page; reveals no account",
    "passkeys.sign_in_with_passkey": "the signed challenge is the credential; failures rate limited per IP",
}
# POST routes that are not authenticated by the session cookie, so carry no CSRF token, and why that is safe.
NO_CSRF = {
    "auth.second_factor_submit": "authenticated by the SameSite=Strict pending cookie (path /auth/), Origin checked",
    "api.pair": "ignores cookies: the pairing code in the body is the credential; foreign Origin refused",
    "auth.accept_invitation": "ignores cookies: the invitation in the path is the credential; foreign Origin refused",
    "passkeys.sign_in_options": "ignores cookies, changes no account; foreign Origin refused",
    "passkeys.sign_in_with_passkey": "ignores cookies: the passkey's signature is the credential; Origin checked",
}
VICTIM = "alice-4kq9"


def _http_routes(app) -> list[tuple[str, str, object]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if getattr(rule, "websocket", False):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, rule))
    return routes


def _url(rule, values: dict[str, str]) -> str:
    """The rule's path with the victim's resource ids (or harmless placeholders) filled in."""
    arguments = {}
    for name in rule.arguments:
        if name in values:
            arguments[name] = values[name]
        elif "machine" in name:
            arguments[name] = values["machine_id"]
        elif "session" in name:
            arguments[name] = str(values["session_id"])
        else:
            arguments[name] = "1" if "int" in str(rule._converters.get(name, "")).lower() else "victim-thing"
    return rule.build(arguments, append_unknown=False)[1]


@pytest.fixture
async def victim(sign_in):
    alice = await sign_in(name=VICTIM)
    machine_token = await auth.pair_machine(alice.user, f"m-{VICTIM}", f"{VICTIM}-box")
    await Machine.filter(id=f"m-{VICTIM}").update(last_seen=auth.now())
    session = await WebSession.get(user_id=alice.user.id)
    expired_token = new_token()
    await WebSession.create(
        user=alice.user,
        token_hash=hash_token(expired_token),
        csrf_token=new_token(),
        expires_at=auth.now() - timedelta(minutes=1),
    )
    revoked_token, _ = await auth.start_web_session(alice.user)
    revoked_id = (await WebSession.get(token_hash=hash_token(revoked_token))).id
    revoke = await alice.client.post(f"/api/devices/web/{revoked_id}/revoke", headers=alice.headers())
    assert revoke.status_code == 200
    values = {"machine_id": f"m-{VICTIM}", "session_id": str(session.id), "token": "garbage-token"}
    values["filename"] = "app.js"
    markers = [VICTIM, alice.csrf, machine_token, hash_token(machine_token)]
    return alice, values, markers, {"expired": expired_token, "revoked": revoked_token}


async def _check(response, endpoint: str, who: str, markers: list[str]) -> int:
    body = await response.get_data(as_text=True)
    assert response.status_code < 500, f"{endpoint} as {who}: {response.status_code}"
    assert "Traceback" not in body and 'File "' not in body, f"{endpoint} as {who} shows a stack trace"
    leaked = [marker for marker in markers if marker in body]
    assert not leaked, f"{endpoint} as {who} leaked the victim's data"
    return response.status_code


async def test_every_route_refuses_strangers(app, victim, sign_in) -> None:
    alice, values, markers, cookies = victim
    routes = _http_routes(app)
    assert {"api.devices", "api.revoke_machine", "auth.logout_everywhere"} <= {r[0] for r in routes}
    for endpoint, method, rule in routes:
        url = _url(rule, values)
        strangers = {
            "nobody": {},
            "garbage cookie": {"Cookie": f"{auth.SESSION_COOKIE}={new_token()}"},
            "expired session": {"Cookie": f"{auth.SESSION_COOKIE}={cookies['expired']}"},
            "revoked session": {"Cookie": f"{auth.SESSION_COOKIE}={cookies['revoked']}"},
        }
        for who, headers in strangers.items():
            response = await app.test_client().open(url, method=method, headers=headers)
            status = await _check(response, endpoint, who, markers)
            if endpoint not in PUBLIC:
                assert status in DENIED, f"{method} {url} as {who} answered {status}"

        # Another user, with a valid session and CSRF token of their own (so only authorisation is tested).
        bob = await sign_in(name="bob", owner=False)
        response = await bob.client.open(url, method=method, headers=bob.headers())
        status = await _check(response, endpoint, "another user", markers)
        if rule.arguments and endpoint not in PUBLIC:
            assert status in DENIED, f"{method} {url} as another user answered {status}"

    # Nothing the strangers sent changed the victim's state.
    assert (await Machine.get(id=values["machine_id"])).revoked_at is None
    assert (await alice.client.get("/api/me")).status_code == 200


async def test_every_post_needs_the_csrf_token(app, victim) -> None:
    alice, values, _, _ = victim
    for endpoint, method, rule in _http_routes(app):
        if method == "GET" or endpoint in PUBLIC or endpoint in NO_CSRF:
            continue
        url = _url(rule, values)
        for label, headers in {"no token": {}, "wrong token": {"X-CSRF-Token": new_token()}}.items():
            response = await alice.client.open(url, method=method, headers=headers)
            body = await response.get_json()
            assert response.status_code == 403, f"{method} {url} with {label}: {response.status_code}"
            assert body["error"]["code"] == "bad_csrf"
        foreign = await alice.client.open(url, method=method, headers=alice.headers(Origin="http://evil.example"))
        assert foreign.status_code == 403, f"{method} {url} from another origin"
    assert (await Machine.get(id=values["machine_id"])).revoked_at is None
    assert (await alice.client.get("/api/me")).status_code == 200


async def _ws_outcome(app, path: str, headers: dict[str, str]) -> tuple[str, object]:
    """("data", first message) if the server talked to us, else ("closed", code) / ("refused", status)."""
    try:
        async with asyncio.timeout(5):
            async with app.test_client().websocket(path, headers=headers) as ws:
                return "data", await ws.receive()
    except WebsocketDisconnectError as closed:
        return "closed", closed.args[0] if closed.args else None
    except WebsocketResponseError as refused:
        return "refused", refused.response.status_code


async def test_every_websocket_route_refuses_strangers(app, victim) -> None:
    alice, values, _, _ = victim
    origin = app.config["IMCODES"].origin
    ws_rules = [rule for rule in app.url_map.iter_rules() if getattr(rule, "websocket", False)]
    revoked_token = await auth.pair_machine(alice.user, "m-revoked", "revoked-box")
    await Machine.filter(id="m-revoked").update(revoked_at=auth.now())
    expired_ticket = await auth.mint_ws_ticket(alice.user)
    await WsTicket.filter(ticket_hash=hash_token(expired_ticket)).update(expires_at=auth.now() - timedelta(seconds=1))
    for rule in ws_rules:
        path = _url(rule, values)
        strangers = {
            "nobody": (path, {}),
            "garbage": (f"{path}?ticket={new_token()}", {"Authorization": f"Bearer {new_token()}", "Origin": origin}),
            "expired ticket": (f"{path}?ticket={expired_ticket}", {"Origin": origin}),
            "revoked daemon token": (path, {"Authorization": f"Bearer {revoked_token}", "Origin": origin}),
            "foreign origin": (
                f"{path}?ticket={await auth.mint_ws_ticket(alice.user)}",
                {"Origin": "http://evil.example"},
            ),
        }
        for who, (url, headers) in strangers.items():
            kind, detail = await _ws_outcome(app, url, headers)
            assert kind in {"closed", "refused"}, f"{rule.rule} as {who} got data: {detail!r}"[:300]
    assert {rule.rule for rule in ws_rules} >= {"/ws/client", "/ws/daemon"}
    # Control: the same harness does see data when the credentials are right, so "closed" above means refused.
    ticket = await auth.mint_ws_ticket(alice.user)
    kind, _ = await _ws_outcome(app, f"/ws/client?ticket={ticket}", {"Origin": origin})
    assert kind == "data"
