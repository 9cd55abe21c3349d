"""The sharing routes as every kind of caller: nobody, a stranger, the grantee trying the owner's actions, the owner
without the CSRF token; and the owner's own happy path (candidates, share, list both sides, revoke)."""

from __future__ import annotations

import pytest
from imcodes_server import auth
from imcodes_server.models_sharing import AuditEvent, Share

pytestmark = pytest.mark.postgres

MACHINE = "m-alice001"
ROUTES = [
    ("GET", "/api/users", None),
    ("GET", "/api/shares", None),
    ("POST", "/api/shares", {"machine": MACHINE, "user_id": 1, "role": "viewer"}),
    ("POST", "/api/shares/1/revoke", None),
    ("GET", f"/api/audit?machine={MACHINE}", None),
]


@pytest.fixture
async def world(sign_in):
    alice = await sign_in(name="alice-owner")
    await auth.pair_machine(alice.user, MACHINE, "alice-box")
    bob = await sign_in(name="bob-guest", owner=False)
    carol = await sign_in(name="carol-other", owner=False)
    response = await alice.client.post(
        "/api/shares", json={"machine": MACHINE, "user_id": bob.user.id, "role": "viewer"}, headers=alice.headers()
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    share_id = (await response.get_json())["share"]["id"]
    await AuditEvent.create(
        machine_id=MACHINE,
        session="s1",
        user=bob.user,
        user_name="bob-guest",
        role="viewer",
        frame_type="terminal.input",
        allowed=False,
        text_length=3,
    )
    return alice, bob, carol, share_id


async def test_owner_shares_lists_and_revokes(world) -> None:
    alice, bob, carol, share_id = world
    users = await (await alice.client.get("/api/users")).get_json()
    assert sorted(u["name"] for u in users["users"]) == ["bob-guest", "carol-other"]
    assert all(set(u) == {"id", "name"} for u in users["users"])  # names only
    made = await alice.client.post(
        "/api/shares",
        json={"machine": MACHINE, "session": "s1", "user_id": carol.user.id, "role": "participant"},
        headers=alice.headers(),
    )
    assert made.status_code == 200
    assert (await made.get_json())["share"]["session"] == "s1"
    again = await alice.client.post(  # the same share again changes the role, no duplicate
        "/api/shares",
        json={"machine": MACHINE, "user_id": bob.user.id, "role": "participant"},
        headers=alice.headers(),
    )
    assert (await again.get_json())["share"]["id"] == share_id
    assert await Share.filter(revoked_at__isnull=True).count() == 2

    mine = await (await alice.client.get("/api/shares")).get_json()
    assert sorted((s["user"]["name"], s["role"], s["session"]) for s in mine["shared_by_me"]) == [
        ("bob-guest", "participant", None),
        ("carol-other", "participant", "s1"),
    ]
    assert mine["shared_with_me"] == []
    theirs = await (await bob.client.get("/api/shares")).get_json()
    assert theirs["shared_by_me"] == []
    assert [(s["machine"], s["owner"]["name"], s["role"]) for s in theirs["shared_with_me"]] == [
        (MACHINE, "alice-owner", "participant")
    ]

    revoked = await alice.client.post(f"/api/shares/{share_id}/revoke", headers=alice.headers())
    assert revoked.status_code == 200
    assert (await (await bob.client.get("/api/shares")).get_json())["shared_with_me"] == []
    audit = await (await alice.client.get(f"/api/audit?machine={MACHINE}")).get_json()
    # Share create/revoke are recorded too (who, what, role, for whom), newest first.
    assert [(e["user"]["name"], e["type"], e["role"], e["session"], e["detail"]) for e in audit["events"]] == [
        ("alice-owner", "share.revoke", "participant", None, f"bob-guest (#{bob.user.id})"),
        ("alice-owner", "share.create", "participant", None, f"bob-guest (#{bob.user.id})"),
        ("alice-owner", "share.create", "participant", "s1", f"carol-other (#{carol.user.id})"),
        ("bob-guest", "terminal.input", "viewer", "s1", None),
        ("alice-owner", "share.create", "viewer", None, f"bob-guest (#{bob.user.id})"),
    ]
    assert audit["events"][3]["length"] == 3


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"machine": MACHINE, "user_id": 10**6, "role": "viewer"}, 404),
        ({"machine": MACHINE, "user_id": "1", "role": "viewer"}, 400),
        ({"machine": MACHINE, "user_id": True, "role": "viewer"}, 400),
        ({"machine": MACHINE, "user_id": 2, "role": "owner"}, 400),
        ({"machine": MACHINE, "user_id": 2, "role": "viewer", "session": "bad name/.."}, 400),
        ({"machine": "m-nowhere", "user_id": 2, "role": "viewer"}, 404),
        ({"machine": ["x"], "user_id": 2, "role": "viewer"}, 404),
        ([], 400),
    ],
)
async def test_bad_share_bodies_are_refused(world, body, status) -> None:
    alice, _, _, _ = world
    before = await Share.all().count()
    response = await alice.client.post("/api/shares", json=body, headers=alice.headers())
    assert response.status_code == status
    assert await Share.all().count() == before


async def test_owner_cannot_share_with_themselves(world) -> None:
    alice, _, _, _ = world
    response = await alice.client.post(
        "/api/shares", json={"machine": MACHINE, "user_id": alice.user.id, "role": "viewer"}, headers=alice.headers()
    )
    assert response.status_code == 400


async def test_nobody_is_refused_everywhere(app, world) -> None:
    for method, path, body in ROUTES:
        response = await app.test_client().open(path, method=method, json=body)
        assert response.status_code == 401, (method, path)
        assert "alice" not in await response.get_data(as_text=True)


async def test_the_grantee_cannot_act_as_the_owner(world) -> None:
    _, bob, carol, share_id = world
    attempts = [
        ("POST", "/api/shares", {"machine": MACHINE, "user_id": carol.user.id, "role": "participant"}, 404),
        ("POST", f"/api/shares/{share_id}/revoke", None, 404),
        ("GET", f"/api/audit?machine={MACHINE}", None, 404),
        ("GET", "/api/users", None, 403),  # owns no machine: learns no names
    ]
    for method, path, body, status in attempts:
        response = await bob.client.open(path, method=method, json=body, headers=bob.headers())
        assert response.status_code == status, (method, path)
        text = await response.get_data(as_text=True)
        assert "carol-other" not in text and "hunter" not in text
    assert await Share.filter(grantee_id=carol.user.id).count() == 0
    assert (await Share.get(id=share_id)).revoked_at is None


async def test_a_stranger_sees_nothing(world) -> None:
    _, _, carol, share_id = world
    await auth.pair_machine(carol.user, "m-carol001", "carol-box")
    for method, path, body in ROUTES:
        response = await carol.client.open(path, method=method, json=body, headers=carol.headers())
        text = await response.get_data(as_text=True)
        assert MACHINE not in text and "alice-box" not in text, (method, path)
    revoke = await carol.client.post(f"/api/shares/{share_id}/revoke", headers=carol.headers())
    assert revoke.status_code == 404
    audit = await carol.client.get(f"/api/audit?machine={MACHINE}")
    assert audit.status_code == 404
    assert (await Share.get(id=share_id)).revoked_at is None


async def test_posts_need_the_csrf_token(world) -> None:
    alice, bob, _, share_id = world
    for path, body in (
        ("/api/shares", {"machine": MACHINE, "user_id": bob.user.id, "role": "participant"}),
        (f"/api/shares/{share_id}/revoke", None),
    ):
        for headers in ({}, {"X-CSRF-Token": "wrong"}, alice.headers(Origin="http://evil.example")):
            response = await alice.client.post(path, json=body, headers=headers)
            assert response.status_code == 403, (path, headers)
    share = await Share.get(id=share_id)
    assert (share.role, share.revoked_at) == ("viewer", None)
