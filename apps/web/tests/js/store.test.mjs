import assert from "node:assert/strict";
import { test } from "node:test";

import { createStore, stateClass, stateReason } from "../../src/imcodes_web/static/js/store.js";

const session = (name, over = {}) => ({
  name,
  driver: "shell",
  label: "",
  state: "idle",
  epoch: 1,
  seq: 3,
  created_at: 1,
  ...over,
});
const machines = (...sessions) => [
  { machine: "m1", hostname: "box", online: true, drivers: [{ name: "shell" }], sessions },
];

test("machines frame loads sessions without unread marks", () => {
  const store = createStore();
  let changes = 0;
  store.subscribe(() => changes++);
  store.applyMachines(machines(session("a"), session("b")));
  assert.equal(store.loaded, true);
  assert.deepEqual(store.sessions("m1").map((s) => s.name), ["a", "b"]);
  assert.equal(store.isUnread("m1", "a"), false);
  assert.equal(changes, 1);
});

test("new activity on a session not being viewed marks it unread; viewing clears it", () => {
  const seen = new Map();
  const saved = [];
  const store = createStore({ seen, onSeen: (key) => saved.push(key) });
  store.applyMachines(machines(session("a"), session("b")));
  store.view("m1", "a");
  store.applySessionUpdated("m1", session("b", { seq: 4 }));
  assert.equal(store.isUnread("m1", "b"), true);
  store.noteEvent("m1", { session: "a", epoch: 1, seq: 9 });
  assert.equal(store.isUnread("m1", "a"), false, "the viewed session is never unread");
  store.view("m1", "b");
  assert.equal(store.isUnread("m1", "b"), false);
  store.view("m1", "a");
  assert.equal(store.isUnread("m1", "b"), false, "seen stays seen");
  assert.deepEqual(seen.get("m1/b"), { epoch: 1, seq: 4 });
  assert.ok(saved.includes("m1/b"));
});

test("timeline events for other sessions mark them unread; a new epoch counts as new", () => {
  const store = createStore();
  store.applyMachines(machines(session("a"), session("b")));
  store.view("m1", "a");
  store.noteEvent("m1", { session: "b", epoch: 1, seq: 4 });
  assert.equal(store.isUnread("m1", "b"), true);
  assert.equal(store.session("m1", "b").seq, 4);
  const store2 = createStore();
  store2.applyMachines(machines(session("c", { seq: 50 })));
  store2.applySessionUpdated("m1", session("c", { epoch: 2, seq: 1 }));
  assert.equal(store2.isUnread("m1", "c"), true);
});

test("unread marks survive a reload through the seen map", () => {
  const seen = new Map([["m1/a", { epoch: 1, seq: 2 }]]);
  const store = createStore({ seen });
  store.applyMachines(machines(session("a", { seq: 7 })));
  assert.equal(store.isUnread("m1", "a"), true);
});

test("a session created while we watch is unread until opened", () => {
  const store = createStore();
  store.applyMachines(machines());
  store.applySessionUpdated("m1", session("n", { seq: 1 }));
  assert.equal(store.isUnread("m1", "n"), true);
});

test("a stale update never moves our seq backwards", () => {
  const store = createStore();
  store.applyMachines(machines(session("a")));
  store.noteEvent("m1", { session: "a", epoch: 1, seq: 10 });
  store.applySessionUpdated("m1", session("a", { seq: 5, state: "working" }));
  assert.equal(store.session("m1", "a").seq, 10);
  assert.equal(store.session("m1", "a").state, "working");
});

test("link status, removal and unknown machines", () => {
  const store = createStore();
  store.applyMachines(machines(session("a")));
  store.applyLinkStatus("m1", false);
  assert.equal(store.machine("m1").online, false);
  store.applyLinkStatus("nope", true); // ignored, no throw
  store.applySessionRemoved("m1", "a");
  assert.equal(store.session("m1", "a"), null);
  store.applySessionUpdated("m2", session("x"));
  assert.equal(store.session("m2", "x").name, "x");
});

test("state helpers", () => {
  assert.equal(stateClass("waiting_permission"), "waiting_permission");
  assert.equal(stateClass("<script>"), "unknown");
  assert.equal(stateReason({ state_reason: { reason: "prompt visible" } }), "prompt visible");
  assert.equal(stateReason({ state_reason: null }), "");
  assert.equal(stateReason({ state_reason: { reason: 5 } }), "");
});
