import assert from "node:assert/strict";
import { test } from "node:test";

import { grantsFromShares, sessionRole } from "../../src/imcodes_web/static/js/roles.js";
import { createStore } from "../../src/imcodes_web/static/js/store.js";

const share = (machine, session, role) => ({ id: 1, machine, hostname: "box", session, role, owner: { id: 1, name: "o" } });

test("session shares of different roles on one machine: each session keeps its own role", () => {
  const grants = grantsFromShares([share("m1", "a", "participant"), share("m1", "b", "viewer")]);
  assert.equal(sessionRole("participant", grants.get("m1"), "a"), "participant");
  assert.equal(sessionRole("participant", grants.get("m1"), "b"), "viewer");
});

test("a whole-machine share and a session share: the better of the two, as the server decides", () => {
  const grants = grantsFromShares([share("m1", null, "viewer"), share("m1", "a", "participant")]);
  assert.equal(sessionRole("participant", grants.get("m1"), "a"), "participant");
  assert.equal(sessionRole("participant", grants.get("m1"), "other"), "viewer");
  const whole = grantsFromShares([share("m1", null, "participant"), share("m1", "a", "viewer")]);
  assert.equal(sessionRole("participant", whole.get("m1"), "a"), "participant");
});

test("never above the machines frame's role: a share list older than a downgrade gives no more", () => {
  const stale = grantsFromShares([share("m1", null, "participant")]);
  assert.equal(sessionRole("viewer", stale.get("m1"), "a"), "viewer");
});

test("owner, unknown shares, unnamed sessions and unknown roles", () => {
  assert.equal(sessionRole("owner", undefined, "a"), "owner");
  assert.equal(sessionRole(undefined, undefined, "a"), "owner");
  assert.equal(sessionRole("participant", undefined, "a"), "participant"); // shares not loaded yet: the machine's role
  const grants = grantsFromShares([share("m1", "a", "participant"), share("m1", "b", "admin"), null, { role: "viewer" }]);
  assert.equal(sessionRole("participant", grants.get("m1"), "b"), "viewer"); // no share names b: view only
  assert.deepEqual([...grants.keys()], ["m1"]);
  assert.equal(grants.get("m1").sessions.has("b"), false);
});

test("the store answers per session once the shares are in, and re-renders", () => {
  const store = createStore();
  let changes = 0;
  store.subscribe(() => changes++);
  const sessions = [{ name: "a", driver: "shell", epoch: 1, seq: 0 }, { name: "b", driver: "shell", epoch: 1, seq: 0 }];
  store.applyMachines([
    { machine: "mine", role: "owner", online: true, sessions },
    { machine: "m1", role: "participant", online: true, sessions },
  ]);
  assert.equal(store.role("m1", "b"), "participant"); // before the shares: the machine's role
  store.applyShares([share("m1", "a", "participant"), share("m1", "b", "viewer")]);
  assert.equal(changes, 2);
  assert.equal(store.role("m1", "a"), "participant");
  assert.equal(store.role("m1", "b"), "viewer");
  assert.equal(store.role("mine", "b"), "owner");
  assert.equal(store.role("gone", "a"), null);
});
