"""The owner removes an invited user (POST /api/users/<id>/remove) and revokes machines others see through shares.

Over the served bridge (real Hypercorn, real `websockets` daemons and browsers): revoking a shared machine re-lists
the grantees' open sockets at once; removing a user closes their browser sockets and their daemons' links (4401),
their web sessions, API keys, shares and machines are gone, and whoever had one of their machines loses it at once.
Through the test client: nobody, a non-owner, the owner's own id, unknown ids and missing CSRF are all refused.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from imcodes_server import auth
from imcodes_server.api_keys import api_key_for, create_api_key
from imcodes_server.models import Machine, User, WebSession
from imcodes_server.models_sharing import AuditEvent, Share
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.postgres


def _load_support() -> ModuleType:
    name = "imcodes_server_tests_sharing_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("sharing_support.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


support = _load_support()
_bridge = support.load_bridge_conftest()
bridge_settings = _bridge.bridge_settings
served = _bridge.served
peers = _bridge.peers


async def _closed_with(ws: Any, within: float = 2.0) -> int | None:
    """The close code the server sent within `within` seconds (frames before it are skipped)."""
    started = time.monotonic()
    try:
        while time.monotonic() - started < within:
            await _bridge.next_frame(ws, "never-sent", within=within)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    except TimeoutError:
        return None
    return None


async def test_revoking_a_shared_machine_relists_grantees_at_once(peers, served) -> None:
    owner = await peers.user("owner")
    guest = await peers.user("guest-gil")
    machine, token = await peers.machine(owner)
    await peers.daemon(token, machine, [peers.session_info("s1")])
    account = await support.Account.sign_in(served.origin, owner)
    await account.share(machine, guest, "viewer")
    browser, first = await peers.browser(guest)
    assert [m["machine"] for m in first["machines"]] == [machine]

    started = time.monotonic()
    response = await account.call("POST", f"/api/machines/{machine}/revoke")
    assert response.status_code == 200
    relisted = await peers.next_frame(browser, "machines", within=1.0)
    assert time.monotonic() - started < 1.0
    assert relisted["machines"] == []


async def test_removing_a_user_ends_everything_they_hold(peers, served) -> None:
    owner = await peers.user("owner")
    gone = await peers.user("leaving-lee")
    friend = await peers.user("friend-fay")
    owner_machine, owner_token = await peers.machine(owner)
    await peers.daemon(owner_token, owner_machine, [peers.session_info("s1")])
    own_machine, own_token = await peers.machine(gone)  # a machine the removed user paired
    own_daemon, _ = await peers.daemon(own_token, own_machine, [peers.session_info("t1")])
    account = await support.Account.sign_in(served.origin, owner)
    leaving = await support.Account.sign_in(served.origin, gone)
    await account.share(owner_machine, gone, "participant")
    await leaving.share(own_machine, friend, "viewer")  # what the removed user shared with someone else
    secret, _ = await create_api_key(gone, "script", {"read"})
    browser, first = await peers.browser(gone)
    assert {m["machine"] for m in first["machines"]} == {owner_machine, own_machine}
    friends_browser, listed = await peers.browser(friend)
    assert [m["machine"] for m in listed["machines"]] == [own_machine]
    owners_browser, _ = await peers.browser(owner)

    started = time.monotonic()
    response = await account.call("POST", f"/api/users/{gone.id}/remove")
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "machines_revoked": 1}
    assert await _closed_with(browser) == 4401
    assert await _closed_with(own_daemon) == 4401
    relisted = await peers.next_frame(friends_browser, "machines", within=1.0)
    assert relisted["machines"] == []
    assert time.monotonic() - started < 3.0

    assert not await User.exists(id=gone.id)
    assert not await WebSession.exists(user_id=gone.id)
    assert await api_key_for(secret) is None
    assert not await Share.exists(grantee_id=gone.id) and not await Share.exists(created_by_id=gone.id)
    assert not await Machine.exists(id=own_machine)
    assert await auth.machine_for_token(own_token) is None
    assert (await leaving.call("GET", "/api/me")).status_code == 401  # the old cookie is dead
    # The owner keeps everything, and the audit trail keeps the removed person's name.
    assert await auth.machine_for_token(owner_token) is not None
    assert not owners_browser.close_code
    names = await AuditEvent.filter(machine_id=owner_machine).values_list("detail", flat=True)
    assert f"leaving-lee (#{gone.id})" in names


@pytest.fixture
async def people(sign_in):
    alice = await sign_in(name="alice-owner")
    bob = await sign_in(name="bob-guest", owner=False)
    carol = await sign_in(name="carol-other", owner=False)
    await auth.pair_machine(carol.user, "m-carol001", "carol-box")
    return alice, bob, carol


async def test_the_owner_lists_people(people) -> None:
    alice, bob, carol = people
    listed = await (await alice.client.get("/api/people")).get_json()
    assert [(p["id"], p["name"], p["machines"]) for p in listed["people"]] == [
        (bob.user.id, "bob-guest", 0),
        (carol.user.id, "carol-other", 1),
    ]
    assert (await bob.client.get("/api/people")).status_code == 403


async def test_removal_is_refused_to_everyone_but_the_owner(app, people) -> None:
    alice, bob, carol = people
    target = f"/api/users/{carol.user.id}/remove"
    nobody = await app.test_client().post(target)
    assert nobody.status_code == 401
    as_guest = await bob.client.post(target, headers=bob.headers())
    assert as_guest.status_code == 403
    assert "carol" not in await as_guest.get_data(as_text=True)
    for headers in ({}, {"X-CSRF-Token": "wrong"}, alice.headers(Origin="http://evil.example")):
        refused = await alice.client.post(target, headers=headers)
        assert refused.status_code == 403, headers
    for user_id, status in ((alice.user.id, 400), (10**6, 404), (2**31 + 5, 404), (0, 404)):
        response = await alice.client.post(f"/api/users/{user_id}/remove", headers=alice.headers())
        assert response.status_code == status, user_id
    assert await User.filter(id__in=[alice.user.id, bob.user.id, carol.user.id]).count() == 3
    assert (await Machine.get(id="m-carol001")).revoked_at is None
    assert (await carol.client.get("/api/me")).status_code == 200

    removed = await alice.client.post(target, headers=alice.headers())
    assert removed.status_code == 200
    assert (await carol.client.get("/api/me")).status_code == 401
    again = await alice.client.post(target, headers=alice.headers())
    assert again.status_code == 404
