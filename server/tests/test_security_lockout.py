"""Brute force: the 6th wrong attempt inside the window is refused (429 + Retry-After), per IP and per method, in
PostgreSQL (a new app on the same database still refuses), and the owner is never locked out of every method."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pyotp
import pytest
from imcodes_server import auth, ratelimit
from imcodes_server.app import create_app
from imcodes_server.models import AuthFailure, User

pytestmark = pytest.mark.postgres

ATTACKER = "203.0.113.66"
OWNER_HOME = "198.51.100.7"


def from_ip(ip: str) -> dict[str, object]:
    return {"scope_base": {"client": (ip, 40000)}}


async def wrong_link(client, ip: str, n: int = 0):
    return await client.get(f"/auth/link/guess-{n}", **from_ip(ip))


async def test_sixth_wrong_link_is_refused_with_retry_after(client) -> None:
    for n in range(ratelimit.MAX_FAILURES):
        assert (await wrong_link(client, ATTACKER, n)).status_code == 403
    sixth = await wrong_link(client, ATTACKER, 99)
    assert sixth.status_code == 429
    retry = int(sixth.headers["Retry-After"])
    assert 0 < retry <= ratelimit.WINDOW.total_seconds()
    body = await sixth.get_data(as_text=True)
    assert "Too many failed attempts" in body and "Traceback" not in body
    # Refused attempts are not checked and do not extend the lock.
    assert await AuthFailure.filter(bucket=f"link:ip:{ATTACKER}").count() == ratelimit.MAX_FAILURES
    # Another address is not affected.
    assert (await wrong_link(client, OWNER_HOME)).status_code == 403


async def test_owner_link_still_works_from_a_fresh_ip_and_from_the_locked_one(client, app) -> None:
    owner = await User.create(name="owner", is_owner=True)
    for n in range(ratelimit.MAX_FAILURES + 1):
        await wrong_link(client, ATTACKER, n)
    assert (await wrong_link(client, ATTACKER)).status_code == 429
    fresh = app.test_client()
    response = await fresh.get(f"/auth/link/{await auth.mint_login_link(owner)}", **from_ip(OWNER_HOME))
    assert response.status_code == 302
    assert (await fresh.get("/api/me")).status_code == 200
    # A valid link (256 random bits, minted on the server) is honoured even from the locked address.
    same_ip = app.test_client()
    response = await same_ip.get(f"/auth/link/{await auth.mint_login_link(owner)}", **from_ip(ATTACKER))
    assert response.status_code == 302


async def test_lock_survives_a_new_app_on_the_same_database(client, config, database) -> None:
    for n in range(ratelimit.MAX_FAILURES):
        await wrong_link(client, ATTACKER, n)
    restarted = create_app(config, database=database)
    assert (await wrong_link(restarted.test_client(), ATTACKER)).status_code == 429


async def test_the_window_slides(client) -> None:
    for n in range(ratelimit.MAX_FAILURES):
        await wrong_link(client, ATTACKER, n)
    assert (await wrong_link(client, ATTACKER)).status_code == 429
    oldest = await AuthFailure.filter(bucket=f"link:ip:{ATTACKER}").order_by("created_at").first()
    assert oldest is not None
    await AuthFailure.filter(id=oldest.id).update(created_at=auth.now() - ratelimit.WINDOW - timedelta(seconds=1))
    assert (await wrong_link(client, ATTACKER)).status_code == 403  # one slot freed
    assert (await wrong_link(client, ATTACKER)).status_code == 429


async def test_parallel_guesses_cannot_slip_past_the_limit(client) -> None:
    responses = await asyncio.gather(*(wrong_link(client, ATTACKER, n) for n in range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(403) <= ratelimit.MAX_FAILURES
    assert set(statuses) <= {403, 429} and 429 in statuses
    assert await AuthFailure.filter(bucket=f"link:ip:{ATTACKER}").count() <= ratelimit.MAX_FAILURES


def wrong_codes(generator: pyotp.TOTP, count: int) -> list[str]:
    """Six-digit codes that are valid for no step around now (so a wrong code is wrong for sure)."""
    valid = {generator.at(auth.now() + timedelta(seconds=30 * drift)) for drift in range(-2, 3)}
    return [code for code in (f"{n * 7919 % 1000000:06d}" for n in range(count + 5)) if code not in valid][:count]


async def _enrolled_owner(sign_in):
    me = await sign_in()
    uri = (await (await me.client.post("/api/totp/enrol", headers=me.headers())).get_json())["otpauth_uri"]
    generator = pyotp.parse_uri(uri)
    confirmed = await me.client.post("/api/totp/confirm", headers=me.headers(), json={"code": generator.now()})
    assert confirmed.status_code == 200
    return me, generator, (await confirmed.get_json())["recovery_codes"]


async def _pending(app, user: User, ip: str):
    browser = app.test_client()
    response = await browser.get(f"/auth/link/{await auth.mint_login_link(user)}", **from_ip(ip))
    assert response.status_code == 302 and response.headers["Location"] == "/auth/second-factor"
    return browser


async def _code(browser, code: str, ip: str):
    return await browser.post("/auth/second-factor", json={"code": code}, **from_ip(ip))


async def test_wrong_totp_codes_lock_totp_but_not_recovery_codes(app, sign_in) -> None:
    me, generator, recovery = await _enrolled_owner(sign_in)
    browser = await _pending(app, me.user, ATTACKER)
    for code in wrong_codes(generator, ratelimit.MAX_FAILURES):
        wrong = await _code(browser, code, ATTACKER)
        assert wrong.status_code == 401, await wrong.get_data(as_text=True)
    next_step = generator.at(auth.now() + timedelta(seconds=30))
    locked = await _code(browser, next_step, ATTACKER)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert (await browser.get("/api/me")).status_code == 401
    # TOTP is locked for the account (a 6-digit code must not be guessable from many addresses), but the owner
    # still signs in with a recovery code from their own address: a different method, different buckets.
    owner = await _pending(app, me.user, OWNER_HOME)
    assert (await _code(owner, next_step, OWNER_HOME)).status_code == 429
    assert (await _code(owner, recovery[0], OWNER_HOME)).status_code == 200
    assert (await owner.get("/api/me")).status_code == 200


async def test_wrong_recovery_codes_lock_recovery_but_not_totp(app, sign_in) -> None:
    me, generator, _ = await _enrolled_owner(sign_in)
    browser = await _pending(app, me.user, ATTACKER)
    for n in range(ratelimit.MAX_FAILURES):
        assert (await _code(browser, f"aaaaa-bbbb{n}", ATTACKER)).status_code == 401
    assert (await _code(browser, "aaaaa-bbbbz", ATTACKER)).status_code == 429
    owner = await _pending(app, me.user, OWNER_HOME)
    ok = await _code(owner, generator.at(auth.now() + timedelta(seconds=30)), OWNER_HOME)
    assert ok.status_code == 200


async def test_a_success_forgets_the_owners_typos(app, sign_in) -> None:
    me, generator, _ = await _enrolled_owner(sign_in)
    browser = await _pending(app, me.user, OWNER_HOME)
    for code in wrong_codes(generator, ratelimit.MAX_FAILURES - 1):
        assert (await _code(browser, code, OWNER_HOME)).status_code == 401
    assert await AuthFailure.filter(bucket=f"totp:user:{me.user.id}").count() == ratelimit.MAX_FAILURES - 1
    assert (await _code(browser, generator.at(auth.now() + timedelta(seconds=30)), OWNER_HOME)).status_code == 200
    assert await AuthFailure.filter(bucket=f"totp:user:{me.user.id}").count() == 0
