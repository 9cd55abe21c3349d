import assert from "node:assert/strict";
import { test } from "node:test";

import { createStore } from "../../src/imcodes_web/static/js/store.js";

const info = (name, over = {}) => ({ name, driver: "claude", label: "", cwd: "/w", epoch: 1, seq: 1, ...over });
const load = (store, ...sessions) =>
  store.applyMachines([{ machine: "m1", hostname: "box", online: true, drivers: [], sessions }]);

test("a removed session with a conversation is offered for resume, newest first, once per conversation", () => {
  const store = createStore();
  load(store, info("claude-1", { conversation: "c-1", label: "fix" }), info("shell-1", { driver: "shell" }));
  store.applySessionUpdated("m1", info("claude-2", { conversation: "c-2" }));
  store.applySessionRemoved("m1", "shell-1"); // no conversation: nothing to resume
  assert.deepEqual(store.endedConversations("m1"), []);
  store.applySessionRemoved("m1", "claude-1");
  store.applySessionRemoved("m1", "claude-2");
  assert.deepEqual(
    store.endedConversations("m1").map((s) => [s.name, s.conversation, s.label]),
    [
      ["claude-2", "c-2", ""],
      ["claude-1", "c-1", "fix"],
    ],
  );
  assert.equal(store.session("m1", "claude-1"), null);
  // resumed, ended again with the same conversation: listed once, as the newest
  store.applySessionUpdated("m1", info("claude-3", { conversation: "c-1" }));
  store.applySessionRemoved("m1", "claude-3");
  assert.deepEqual(
    store.endedConversations("m1").map((s) => s.name),
    ["claude-3", "claude-2"],
  );
  assert.deepEqual(store.endedConversations("other"), []);
});

test("the list of ended conversations is bounded", () => {
  const store = createStore();
  load(store);
  for (let i = 0; i < 25; i += 1) {
    store.applySessionUpdated("m1", info(`claude-${i}`, { conversation: `c-${i}` }));
    store.applySessionRemoved("m1", `claude-${i}`);
  }
  const kept = store.endedConversations("m1");
  assert.equal(kept.length, 10);
  assert.equal(kept[0].conversation, "c-24");
});
