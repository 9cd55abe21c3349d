"""Property-based fuzzing (hypothesis) of the security API bodies and path ids: never a 5xx or a stack trace, and no
partial write (nothing paired, spent, enrolled or signed in by a request that was refused).

Hypothesis drives a synchronous function in a worker thread; each example's requests run on the test's event loop
(where the app and the ORM live) through run_coroutine_threadsafe.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from imcodes_server import auth
from imcodes_server.models import AuthFailure, Machine, PairingCode, TotpCredential, WebSession
from imcodes_server.pairing import hash_code

pytestmark = pytest.mark.postgres

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=80))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=8,
)
field_names = st.sampled_from(["code", "machine_id", "hostname"]) | st.text(max_size=10)
bodies = st.one_of(json_values, st.dictionaries(field_names, json_values, max_size=4))


def _run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=30)


async def _check(response) -> None:
    text = await response.get_data(as_text=True)
    assert response.status_code < 500, text
    assert "Traceback" not in text


async def test_fuzzed_bodies_never_crash_or_half_write(app, sign_in) -> None:
    me = await sign_in()
    code = (await (await me.client.post("/api/pairing-codes", headers=me.headers())).get_json())["code"]
    loop = asyncio.get_running_loop()

    async def one(body: Any, raw: bytes) -> None:
        await AuthFailure.all().delete()  # keep every example reaching the parsers, not just the lockout
        for url in ("/api/pair", "/api/totp/confirm", "/api/totp/disable", "/auth/second-factor"):
            await _check(await me.client.post(url, json=body, headers=me.headers()))
            raw_response = await me.client.post(
                url, data=raw, headers=me.headers(**{"Content-Type": "application/json"})
            )
            await _check(raw_response)
        await _check(await me.client.post("/auth/second-factor", form={"code": str(body)[:200]}))

    @FUZZ
    @given(body=bodies, raw=st.binary(max_size=200))
    @example(body={"code": "\x00", "machine_id": "m-1", "hostname": "a\x00b"}, raw=b"\x80")  # bad UTF-8 was a 500
    def property_holds(body: Any, raw: bytes) -> None:
        _run(loop, one(body, raw))

    await asyncio.to_thread(property_holds)
    assert await Machine.all().count() == 0
    assert await PairingCode.filter(code_hash=hash_code(code), used_at__isnull=True).count() == 1
    assert await TotpCredential.filter(confirmed_at__isnull=False).count() == 0
    assert await WebSession.all().count() == 1


async def test_fuzzed_path_ids_and_pairing_fields(app, sign_in) -> None:
    me = await sign_in()
    await auth.pair_machine(me.user, "m-kept", "kept-box")
    loop = asyncio.get_running_loop()

    async def one(text: str, number: int) -> None:
        await AuthFailure.all().delete()
        path_id = quote(text, safe="") or "x"
        for url in (f"/api/machines/{path_id}/revoke", f"/api/devices/web/{path_id}/revoke"):
            await _check(await me.client.post(url, headers=me.headers()))
        await _check(await me.client.post(f"/api/devices/web/{number}/revoke", headers=me.headers()))
        await _check(await me.client.get(f"/auth/link/{path_id}"))
        body = {"code": text or "x", "machine_id": text or "m", "hostname": text}
        await _check(await me.client.post("/api/pair", json=body))

    @FUZZ
    @given(text=st.text(max_size=60), number=st.integers(min_value=-(2**70), max_value=2**70))
    @example(text="m\x00", number=2**40)  # NUL in a machine id and an id beyond int32 were 500s
    def property_holds(text: str, number: int) -> None:
        _run(loop, one(text, number))

    await asyncio.to_thread(property_holds)
    kept = await Machine.get(id="m-kept")
    assert kept.revoked_at is None and await Machine.all().count() == 1
    assert (await me.client.get("/api/me")).status_code == 200
