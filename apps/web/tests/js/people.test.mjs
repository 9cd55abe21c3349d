import assert from "node:assert/strict";
import { test } from "node:test";

import { removalQuestion } from "../../src/imcodes_web/static/js/people.js";

test("the removal question names the person and everything that goes", () => {
  const text = removalQuestion({ id: 2, name: "guest-gwen", machines: 2 });
  assert.match(text, /^Remove “guest-gwen”\?/);
  for (const what of ["browser sessions", "API keys", "passkeys", "share", "the 2 machines they paired", "no undo"]) {
    assert.ok(text.includes(what), `${what} in: ${text}`);
  }
});

test("one machine and none are counted in words that read right", () => {
  assert.ok(removalQuestion({ name: "a", machines: 1 }).includes("the 1 machine they paired"));
  assert.ok(removalQuestion({ name: "a", machines: 0 }).includes("any machine they paired (none now)"));
});
