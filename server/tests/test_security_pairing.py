"""Pairing a machine with a one-time code from the web client: the daemon gets its own token once; codes are single
use, short-lived, hashed; /api/pair is locked per IP after 5 wrong codes; a machine never moves between accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from imcodes_server import auth, ratelimit
from imcodes_server.models import AuthFailure, Machine, PairingCode, hash_token
from imcodes_server.pairing import hash_code

pytestmark = pytest.mark.postgres

ATTACKER = "203.0.113.9"
NEW_MACHINE = "198.51.100.20"


async def _code(me) -> str:
    response = await me.client.post("/api/pairing-codes", headers=me.headers())
    assert response.status_code == 200
    body = await response.get_json()
    assert body["server"] == "http://127.0.0.1:8787"
    return str(body["code"])


async def _pair(app, code: str, machine_id: str = "m-new", ip: str = NEW_MACHINE, **extra):
    body = {"code": code, "machine_id": machine_id, "hostname": "newbox"}
    return await app.test_client().post("/api/pair", json=body, scope_base={"client": (ip, 5000)}, **extra)


async def test_a_code_pairs_one_machine_once(app, client, sign_in) -> None:
    assert (await client.post("/api/pairing-codes")).status_code == 401
    alice = await sign_in(name="alice")
    bob = await sign_in(name="bob", owner=False)
    assert (await alice.client.post("/api/pairing-codes")).status_code == 403
    code = await _code(alice)
    assert await PairingCode.filter(code_hash=hash_code(code)).count() == 1  # only the hash is stored

    paired = await _pair(app, code)
    assert paired.status_code == 200
    body = await paired.get_json()
    assert body["machine_id"] == "m-new"
    machine = await auth.machine_for_token(body["token"])
    assert machine is not None and machine.owner_id == alice.user.id and machine.hostname == "newbox"
    assert (await Machine.get(id="m-new")).token_hash == hash_token(body["token"])

    assert (await _pair(app, code, "m-other")).status_code == 403  # spent
    alice_devices = await (await alice.client.get("/api/devices")).get_json()
    assert [m["id"] for m in alice_devices["machines"]] == ["m-new"]
    bob_devices = await (await bob.client.get("/api/devices")).get_json()
    assert bob_devices["machines"] == []


async def test_expired_codes_bad_bodies_and_foreign_origins_are_refused(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    code = await _code(alice)
    assert (await _pair(app, code, headers={"Origin": "http://evil.example"})).status_code == 403
    assert (await _pair(app, code, machine_id="../../etc")).status_code == 400
    bad = await app.test_client().post("/api/pair", json=["not", "an", "object"])
    assert bad.status_code == 400
    assert await AuthFailure.filter(bucket__startswith="pairing:").count() == 0  # malformed requests check nothing
    await PairingCode.filter(code_hash=hash_code(code)).update(expires_at=auth.now() - timedelta(seconds=1))
    assert (await _pair(app, code)).status_code == 403
    assert await Machine.filter(id="m-new").count() == 0


async def test_sixth_wrong_code_is_locked_but_other_addresses_are_not(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    code = await _code(alice)
    for n in range(ratelimit.MAX_FAILURES):
        assert (await _pair(app, f"wrong-{n}", ip=ATTACKER)).status_code == 403
    locked = await _pair(app, code, ip=ATTACKER)  # refused before the code is looked at, even a valid one
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "Too many failed attempts" in (await locked.get_json())["error"]["message"]
    assert await Machine.filter(id="m-new").count() == 0
    assert (await _pair(app, code, ip=NEW_MACHINE)).status_code == 200


async def test_a_machine_never_moves_to_another_account(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    bob = await sign_in(name="bob", owner=False)
    alice_token = await auth.pair_machine(alice.user, "m-alice", "alice-box")
    code = await _code(bob)
    taken = await _pair(app, code, machine_id="m-alice")
    assert taken.status_code == 409
    assert alice_token not in await taken.get_data(as_text=True)
    assert (await auth.machine_for_token(alice_token)).owner_id == alice.user.id
    # The code was not spent on the refused attempt.
    assert (await _pair(app, code, machine_id="m-bob")).status_code == 200


async def test_re_pairing_a_revoked_machine_gives_a_new_token(app, sign_in) -> None:
    alice = await sign_in(name="alice")
    old = await auth.pair_machine(alice.user, "m-alice", "alice-box")
    assert (await alice.client.post("/api/machines/m-alice/revoke", headers=alice.headers())).status_code == 200
    paired = await _pair(app, await _code(alice), machine_id="m-alice")
    assert paired.status_code == 200
    new = (await paired.get_json())["token"]
    assert await auth.machine_for_token(old) is None
    assert (await auth.machine_for_token(new)).id == "m-alice"
