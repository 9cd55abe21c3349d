"""Passkeys against a software authenticator that does what a real one does (P-256 key, "none" attestation, signed
assertions with a counter): registration, usernameless sign-in, TOTP still asked, replay, wrong origin, sign counter,
removed credentials, lockout, and every passkey route refusing strangers, other users and missing CSRF tokens."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from imcodes_server import ratelimit, totp
from imcodes_server.config import ServerConfig, load_secret_key
from imcodes_server.models import AuthFailure
from imcodes_server.models_passkeys import Passkey, PasskeyChallenge
from webauthn.helpers import bytes_to_base64url, encode_cbor

pytestmark = pytest.mark.postgres

ORIGIN = "http://localhost:8787"


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    """Browsers refuse an IP address as the rp id, so these tests open the server as localhost."""
    data = tmp_path / "server"
    return ServerConfig(
        host="127.0.0.1", port=8787, data_dir=data, public_origin=ORIGIN, secret_key=load_secret_key(data)
    )


@dataclass
class SoftAuthenticator:
    """A resident-key, user-verifying platform authenticator in software."""

    origin: str = ORIGIN
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0
    user_handle: str = ""

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def create(self, options: dict) -> dict:
        self.user_handle = options["user"]["id"]
        numbers = self.key.public_key().public_numbers()
        cose_key = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        auth_data = (
            hashlib.sha256(options["rp"]["id"].encode()).digest()
            + bytes([0x45])  # user present, user verified, attested credential data
            + self.sign_count.to_bytes(4, "big")
            + bytes(16)  # aaguid
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + encode_cbor(cose_key)
        )
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        cid = bytes_to_base64url(self.credential_id)
        return {
            "id": cid,
            "rawId": cid,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(self._client_data("webauthn.create", options["challenge"])),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(self, options: dict, *, rp_id: str | None = None, count_up: bool = True) -> dict:
        if count_up:
            self.sign_count += 1
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = (
            hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
            + bytes([0x05])
            + self.sign_count.to_bytes(4, "big")
        )
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        cid = bytes_to_base64url(self.credential_id)
        return {
            "id": cid,
            "rawId": cid,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": self.user_handle,
            },
            "clientExtensionResults": {},
        }


async def _register(signed_in, authenticator: SoftAuthenticator, name: str = "laptop"):
    options = await signed_in.client.post("/api/passkeys/register/options", headers=signed_in.headers())
    assert options.status_code == 200, await options.get_data(as_text=True)
    credential = authenticator.create(await options.get_json())
    return await signed_in.client.post(
        "/api/passkeys/register", json={"credential": credential, "name": name}, headers=signed_in.headers()
    )


async def _sign_in(client, authenticator: SoftAuthenticator, **get_options):
    options = await client.post("/auth/passkey/options")
    assert options.status_code == 200, await options.get_data(as_text=True)
    return await client.post(
        "/auth/passkey", json={"credential": authenticator.get(await options.get_json(), **get_options)}
    )


async def test_register_sign_in_and_the_session_works(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    key = SoftAuthenticator()
    registered = await _register(alice, key)
    assert registered.status_code == 200, await registered.get_data(as_text=True)
    listed = await (await alice.client.get("/api/passkeys")).get_json()
    assert listed["available"] is True
    assert [p["name"] for p in listed["passkeys"]] == ["laptop"]
    assert "credential_id" not in json.dumps(listed) and "public_key" not in json.dumps(listed)
    options = await (await alice.client.post("/api/passkeys/register/options", headers=alice.headers())).get_json()
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert [c["id"] for c in options["excludeCredentials"]] == [bytes_to_base64url(key.credential_id)]

    browser = app.test_client()
    assert (await browser.get("/api/me")).status_code == 401
    response = await _sign_in(browser, key)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert (await response.get_json())["next"] == "/"
    me = await browser.get("/api/me")
    assert me.status_code == 200
    assert (await me.get_json())["user"]["name"] == "alice"
    row = await Passkey.get(user_id=alice.user.id)
    assert row.sign_count == 1 and row.last_used_at is not None


async def test_replayed_challenges_are_refused(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    key = SoftAuthenticator()
    options = await (await alice.client.post("/api/passkeys/register/options", headers=alice.headers())).get_json()
    credential = key.create(options)
    body = {"credential": credential}
    first = await alice.client.post("/api/passkeys/register", json=body, headers=alice.headers())
    assert first.status_code == 200
    again = await alice.client.post("/api/passkeys/register", json=body, headers=alice.headers())
    assert again.status_code == 400
    assert (await again.get_json())["error"]["code"] == "bad_challenge"

    sign_in_options = await (await app.test_client().post("/auth/passkey/options")).get_json()
    assertion = {"credential": key.get(sign_in_options)}
    assert (await app.test_client().post("/auth/passkey", json=assertion)).status_code == 200
    replay = await app.test_client().post("/auth/passkey", json=assertion)
    assert replay.status_code == 400
    assert (await replay.get_json())["error"]["code"] == "bad_challenge"
    assert await PasskeyChallenge.all().count() == 0


async def test_a_sign_in_challenge_cannot_register_and_expired_ones_fail(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    wrong_purpose = await (await alice.client.post("/auth/passkey/options")).get_json()
    wrong_purpose["rp"], wrong_purpose["user"] = {"id": "localhost"}, {"id": "AAAA"}
    refused = await alice.client.post(
        "/api/passkeys/register",
        json={"credential": SoftAuthenticator().create(wrong_purpose)},
        headers=alice.headers(),
    )
    assert (await refused.get_json())["error"]["code"] == "bad_challenge"

    options = await (await alice.client.post("/api/passkeys/register/options", headers=alice.headers())).get_json()
    await PasskeyChallenge.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    expired = await alice.client.post(
        "/api/passkeys/register", json={"credential": SoftAuthenticator().create(options)}, headers=alice.headers()
    )
    assert (await expired.get_json())["error"]["code"] == "bad_challenge"
    assert await Passkey.all().count() == 0


async def test_wrong_origin_and_rp_id_are_refused(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    evil = SoftAuthenticator(origin="http://localhost:9999")
    refused = await _register(alice, evil)
    assert refused.status_code == 400
    assert (await refused.get_json())["error"]["code"] == "not_verified"
    assert await Passkey.all().count() == 0

    key = SoftAuthenticator()
    assert (await _register(alice, key)).status_code == 200
    key.origin = "http://evil.example"
    assert (await _sign_in(app.test_client(), key)).status_code == 401
    key.origin = ORIGIN
    assert (await _sign_in(app.test_client(), key, rp_id="evil.example")).status_code == 401
    foreign = await app.test_client().post("/auth/passkey/options", headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert (await _sign_in(app.test_client(), key)).status_code == 200, "the real origin still works"


async def test_the_sign_counter_must_grow(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    key = SoftAuthenticator()
    assert (await _register(alice, key)).status_code == 200
    assert (await _sign_in(app.test_client(), key)).status_code == 200
    cloned = await _sign_in(app.test_client(), key, count_up=False)
    assert cloned.status_code == 401
    assert (await cloned.get_json())["error"]["code"] == "not_verified"
    assert (await Passkey.get(user_id=alice.user.id)).sign_count == 1


async def test_totp_is_still_asked_after_a_passkey(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    key = SoftAuthenticator()
    assert (await _register(alice, key)).status_code == 200
    uri = (await (await alice.client.post("/api/totp/enrol", headers=alice.headers())).get_json())["otpauth_uri"]
    code = pyotp.parse_uri(uri).now()
    assert (
        await alice.client.post("/api/totp/confirm", json={"code": code}, headers=alice.headers())
    ).status_code == 200
    assert await totp.is_enrolled(alice.user.id)

    browser = app.test_client()
    response = await _sign_in(browser, key)
    assert response.status_code == 200
    assert (await response.get_json())["next"] == "/auth/second-factor"
    cookies = response.headers.get_all("Set-Cookie")
    assert any(c.startswith("imcodes_pending=") and "Path=/auth/" in c and "HttpOnly" in c for c in cookies)
    assert not any(c.startswith("imcodes_session=") for c in cookies)
    assert (await browser.get("/api/me")).status_code == 401
    assert (await browser.get("/auth/second-factor")).status_code == 200


async def test_removed_passkeys_no_longer_sign_in(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    key = SoftAuthenticator()
    assert (await _register(alice, key)).status_code == 200
    passkey_id = (await (await alice.client.get("/api/passkeys")).get_json())["passkeys"][0]["id"]
    deleted = await alice.client.post(f"/api/passkeys/{passkey_id}/delete", headers=alice.headers())
    assert deleted.status_code == 200
    response = await _sign_in(app.test_client(), key)
    assert response.status_code == 401
    error = (await response.get_json())["error"]
    assert error["code"] == "unknown_passkey" and "not registered" in error["message"]


async def test_failed_passkey_sign_ins_lock_the_address(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    key = SoftAuthenticator()
    assert (await _register(alice, key)).status_code == 200
    stranger = SoftAuthenticator(user_handle=key.user_handle)
    for _ in range(ratelimit.MAX_FAILURES):
        assert (await _sign_in(app.test_client(), stranger)).status_code == 401
    locked = await _sign_in(app.test_client(), key)
    assert locked.status_code == 429, "the 6th attempt is refused, even with a good passkey"
    assert int(locked.headers["Retry-After"]) > 0
    buckets = set(await AuthFailure.all().values_list("bucket", flat=True))
    assert buckets and all(bucket.startswith("passkey:ip:") for bucket in buckets), buckets
    assert await ratelimit.retry_after(sorted(buckets)) is not None
    totp_bucket = sorted(buckets)[0].replace("passkey:", "totp:", 1)
    assert await ratelimit.retry_after([totp_bucket]) is None, "other methods stay open"


async def test_passkey_routes_refuse_strangers_other_users_and_missing_csrf(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    assert (await _register(alice, SoftAuthenticator())).status_code == 200
    passkey_id = (await Passkey.get(user_id=alice.user.id)).id
    nobody = app.test_client()
    assert (await nobody.get("/api/passkeys")).status_code == 401
    for path in ("/api/passkeys/register/options", "/api/passkeys/register", f"/api/passkeys/{passkey_id}/delete"):
        assert (await nobody.post(path, json={})).status_code == 401, path
        missing = await alice.client.post(path, json={})
        assert missing.status_code == 403 and (await missing.get_json())["error"]["code"] == "bad_csrf", path
        wrong = await alice.client.post(path, json={}, headers={"X-CSRF-Token": "wrong"})
        assert wrong.status_code == 403, path
        foreign = await alice.client.post(path, json={}, headers=alice.headers(Origin="http://evil.example"))
        assert foreign.status_code == 403, path

    bob = await sign_in(name="bob", owner=False)
    assert (await (await bob.client.get("/api/passkeys")).get_json())["passkeys"] == []
    stolen = await bob.client.post(f"/api/passkeys/{passkey_id}/delete", headers=bob.headers())
    assert stolen.status_code == 404
    # Bob cannot finish a registration with a challenge issued to Alice.
    options = await (await alice.client.post("/api/passkeys/register/options", headers=alice.headers())).get_json()
    hijack = await bob.client.post(
        "/api/passkeys/register", json={"credential": SoftAuthenticator().create(options)}, headers=bob.headers()
    )
    assert (await hijack.get_json())["error"]["code"] == "bad_challenge"
    assert await Passkey.filter(user_id=alice.user.id).count() == 1
    assert await Passkey.filter(user_id=bob.user.id).count() == 0
    for garbage in ({}, {"credential": "not json"}, {"credential": {"id": 1}}, [1, 2]):
        response = await app.test_client().post("/auth/passkey", json=garbage)
        assert response.status_code == 400, garbage


async def test_an_ip_origin_explains_that_passkeys_need_a_host_name(app, sign_in, config) -> None:
    app.config["IMCODES"] = ServerConfig(
        host="127.0.0.1", port=8787, data_dir=config.data_dir, secret_key=config.secret_key
    )
    alice = await sign_in(name="alice")
    listed = await (await alice.client.get("/api/passkeys")).get_json()
    assert listed["available"] is False and "host name" in listed["reason"]
    response = await app.test_client().post("/auth/passkey/options")
    assert response.status_code == 409
    assert (await response.get_json())["error"]["code"] == "passkeys_unavailable"
