"""TOTP second factor: enrolment shown once and confirmed with a code, the code form after the sign-in link, replay
refused, recovery codes each usable once, seeds encrypted and never logged or returned again."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from imcodes_server import auth, totp
from imcodes_server.models import PendingSignIn, RecoveryCode, TotpCredential

pytestmark = pytest.mark.postgres


def _seed(uri: str) -> str:
    return parse_qs(urlsplit(uri).query)["secret"][0]


async def _enrol(me) -> tuple[pyotp.TOTP, list[str], str]:
    started = await me.client.post("/api/totp/enrol", headers=me.headers())
    assert started.status_code == 200
    uri = (await started.get_json())["otpauth_uri"]
    assert uri.startswith("otpauth://totp/") and "issuer=imcodes" in uri
    generator = pyotp.parse_uri(uri)
    confirmed = await me.client.post("/api/totp/confirm", headers=me.headers(), json={"code": generator.now()})
    assert confirmed.status_code == 200, await confirmed.get_data(as_text=True)
    return generator, (await confirmed.get_json())["recovery_codes"], _seed(uri)


def _later(generator: pyotp.TOTP, steps: int = 1) -> str:
    return generator.at(auth.now() + timedelta(seconds=30 * steps))


async def _follow_link(app, user):
    browser = app.test_client()
    response = await browser.get(f"/auth/link/{await auth.mint_login_link(user)}")
    return browser, response


async def test_enrolment_needs_sign_in_csrf_and_a_matching_code(client, sign_in) -> None:
    assert (await client.post("/api/totp/enrol")).status_code == 401
    assert (await client.post("/api/totp/confirm", json={"code": "123456"})).status_code == 401
    assert (await client.get("/api/totp")).status_code == 401
    me = await sign_in()
    assert (await me.client.post("/api/totp/enrol")).status_code == 403
    uri = (await (await me.client.post("/api/totp/enrol", headers=me.headers())).get_json())["otpauth_uri"]
    generator = pyotp.parse_uri(uri)
    assert (await (await me.client.get("/api/totp")).get_json())["enrolled"] is False
    wrong = "000000" if generator.now() != "000000" else "111111"
    bad = await me.client.post("/api/totp/confirm", headers=me.headers(), json={"code": wrong})
    assert bad.status_code == 400
    assert (await me.client.post("/api/totp/confirm", json={"code": generator.now()})).status_code == 403
    ok = await me.client.post("/api/totp/confirm", headers=me.headers(), json={"code": generator.now()})
    assert ok.status_code == 200
    codes = (await ok.get_json())["recovery_codes"]
    assert len(codes) == 10 == len(set(codes))
    status = await (await me.client.get("/api/totp")).get_json()
    assert status == {"enrolled": True, "recovery_codes_left": 10}
    # Shown once: enrolling again is refused and nothing returns the seed afterwards.
    again = await me.client.post("/api/totp/enrol", headers=me.headers())
    assert again.status_code == 409 and _seed(uri) not in await again.get_data(as_text=True)


async def test_seed_is_encrypted_and_codes_are_hashed_at_rest(sign_in, config) -> None:
    me = await sign_in()
    _, codes, seed = await _enrol(me)
    row = await TotpCredential.get(user_id=me.user.id)
    assert seed not in row.secret_encrypted
    assert totp.decrypt_seed(row.secret_encrypted, config.secret_key) == seed
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        totp.decrypt_seed(row.secret_encrypted, "another-server-secret")
    stored = await RecoveryCode.filter(user_id=me.user.id).values_list("code_hash", flat=True)
    assert len(stored) == 10 and not set(codes) & set(stored)
    assert {totp.hash_recovery_code(code) for code in codes} == set(stored)


async def test_sign_in_asks_for_the_code_after_the_link(app, sign_in) -> None:
    me = await sign_in()
    generator, _, _ = await _enrol(me)
    browser, response = await _follow_link(app, me.user)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/second-factor"
    cookies = " ".join(response.headers.get_all("Set-Cookie"))
    assert auth.SESSION_COOKIE not in cookies and "HttpOnly" in cookies and "SameSite=Strict" in cookies
    assert (await browser.get("/api/me")).status_code == 401  # half signed in is not signed in
    form = await browser.get("/auth/second-factor")
    page = await form.get_data(as_text=True)
    assert form.status_code == 200 and "<form" in page and "<script" not in page

    wrong = await browser.post("/auth/second-factor", form={"code": "12345x"})
    assert wrong.status_code == 401 and "wrong" in await wrong.get_data(as_text=True)
    done = await browser.post("/auth/second-factor", form={"code": _later(generator)})
    assert done.status_code == 303 and done.headers["Location"] == "/"
    assert (await browser.get("/api/me")).status_code == 200
    assert await PendingSignIn.filter(user_id=me.user.id).count() == 0

    # The same code (same time step) is not accepted a second time.
    replay, _ = await _follow_link(app, me.user)
    assert (await replay.post("/auth/second-factor", json={"code": _later(generator)})).status_code == 401
    assert (await replay.get("/api/me")).status_code == 401


async def test_second_factor_form_without_a_pending_sign_in(client, app, sign_in) -> None:
    assert (await client.get("/auth/second-factor")).status_code == 401
    assert (await client.post("/auth/second-factor", json={"code": "123456"})).status_code == 401
    me = await sign_in()
    generator, _, _ = await _enrol(me)
    browser, _ = await _follow_link(app, me.user)
    await PendingSignIn.filter(user_id=me.user.id).update(expires_at=auth.now() - timedelta(seconds=1))
    expired = await browser.post("/auth/second-factor", json={"code": _later(generator)})
    assert expired.status_code == 401
    browser, _ = await _follow_link(app, me.user)
    foreign = await browser.post(
        "/auth/second-factor", json={"code": _later(generator)}, headers={"Origin": "http://evil.example"}
    )
    assert foreign.status_code == 403


async def test_recovery_code_works_once(app, sign_in) -> None:
    me = await sign_in()
    _, codes, _ = await _enrol(me)
    browser, _ = await _follow_link(app, me.user)
    assert (await browser.post("/auth/second-factor", json={"code": codes[3].upper()})).status_code == 200
    assert (await browser.get("/api/me")).status_code == 200
    status = await (await browser.get("/api/totp")).get_json()
    assert status["recovery_codes_left"] == 9
    again, _ = await _follow_link(app, me.user)
    assert (await again.post("/auth/second-factor", json={"code": codes[3]})).status_code == 401
    assert (await again.post("/auth/second-factor", json={"code": codes[4]})).status_code == 200


async def test_disable_needs_a_valid_code(sign_in) -> None:
    me = await sign_in()
    bob = await sign_in(name="bob", owner=False)
    generator, codes, _ = await _enrol(me)
    assert (await (await bob.client.get("/api/totp")).get_json())["enrolled"] is False
    assert (
        await bob.client.post("/api/totp/disable", headers=bob.headers(), json={"code": codes[0]})
    ).status_code == 409
    assert (await me.client.post("/api/totp/disable", json={"code": codes[0]})).status_code == 403
    bad = await me.client.post("/api/totp/disable", headers=me.headers(), json={"code": "nope-nope"})
    assert bad.status_code == 400
    ok = await me.client.post("/api/totp/disable", headers=me.headers(), json={"code": _later(generator)})
    assert ok.status_code == 200
    assert await TotpCredential.filter(user_id=me.user.id).count() == 0
    assert await RecoveryCode.filter(user_id=me.user.id).count() == 0


async def test_seeds_and_codes_never_reach_the_logs(app, sign_in, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    me = await sign_in()
    _, codes, seed = await _enrol(me)
    browser, _ = await _follow_link(app, me.user)
    assert (await browser.post("/auth/second-factor", json={"code": codes[0]})).status_code == 200
    await browser.get("/api/totp")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert seed not in logged
    assert not any(code in logged for code in codes)
