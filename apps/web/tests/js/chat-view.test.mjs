import assert from "node:assert/strict";
import { test } from "node:test";

import { chatItems } from "../../src/imcodes_web/static/js/chat-view.js";

let seq = 0;
const ev = (kind, data = {}) => ({ session: "s", epoch: 1, seq: ++seq, at: 0, kind, data });

test("prompts, streamed and final assistant text, state separators", () => {
  const items = chatItems([
    ev("user.prompt", { text: "hi" }),
    ev("state.changed", { state: "working", reason: "hook: UserPromptSubmit" }),
    ev("assistant.delta", { text: "Hel" }),
    ev("assistant.delta", { text: "lo" }),
    ev("output", { bytes: 5 }),
    ev("assistant.final", { text: "Hello!" }),
    ev("input", { text: "ls" }),
  ]);
  assert.deepEqual(
    items.map((i) => i.kind),
    ["user", "state", "assistant", "user"],
  );
  assert.deepEqual([items[2].text, items[2].partial], ["Hello!", false]);
  assert.equal(items[1].reason, "hook: UserPromptSubmit");
  assert.equal(items[3].typed, true);
});

test("a final message completes the streamed one instead of repeating it", () => {
  const items = chatItems([ev("assistant.delta", { text: "a" }), ev("assistant.final", { text: "ab" })]);
  assert.equal(items.length, 1);
  assert.deepEqual([items[0].text, items[0].partial], ["ab", false]);
});

test("only the newest unanswered permission question offers its choices", () => {
  const screen = { question: "Do you want to proceed?", choices: [{ key: "1", label: "Yes" }, { key: "3", label: "No" }] };
  const acp = { request_id: 7, title: "Write file", options: [{ id: "allow", name: "Allow once", kind: "allow_once" }] };
  const answered = chatItems([ev("permission.requested", acp), ev("permission.answered", { request_id: 7, option_id: "allow" })]);
  assert.equal(answered[0].open, false);
  const items = chatItems([ev("permission.requested", acp), ev("permission.requested", screen)]);
  assert.deepEqual(items.map((i) => i.open), [false, true]);
  assert.deepEqual(items[1].choices, [{ key: "1", label: "Yes" }, { key: "3", label: "No" }]);
  assert.deepEqual(items[0].choices, [{ key: "allow", label: "Allow once" }]);
});

test("a prompt told by the daemon and by the agent's channel shows once; the same text after an answer shows again", () => {
  const items = chatItems([
    ev("user.prompt", { text: "run the tests" }),
    ev("user.prompt", { text: "run the tests", source: "hook" }),
    ev("assistant.final", { text: "done" }),
    ev("user.prompt", { text: "run the tests", via: "qwen-json-file" }),
  ]);
  assert.deepEqual(items.map((i) => [i.kind, i.text]), [["user", "run the tests"], ["assistant", "done"], ["user", "run the tests"]]);
});

test("a question from a machine channel and the same question read off the screen make one card with the choices", () => {
  const hook = { tool: "Bash", input: "rm -rf build", via: "hook" };
  const screen = { question: "Do you want to proceed?", tool: "", choices: [{ key: "1", label: "Yes" }, { key: "3", label: "No" }] };
  for (const order of [[hook, screen], [screen, hook]]) {
    const items = chatItems(order.map((d) => ev("permission.requested", d)));
    assert.equal(items.length, 1);
    assert.equal(items[0].open, true);
    assert.deepEqual(items[0].choices.map((c) => c.key), ["1", "3"]);
    assert.equal(items[0].data.tool, "Bash"); // an empty field never hides a known one
    assert.equal(items[0].data.question, "Do you want to proceed?");
  }
});
