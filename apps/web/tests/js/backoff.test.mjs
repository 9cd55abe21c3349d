import assert from "node:assert/strict";
import { test } from "node:test";

import { BACKOFF_MAX_MS, backoffDelay, newId } from "../../src/imcodes_web/static/js/backoff.js";

test("backoff doubles from 1 s and caps at 30 s", () => {
  const mid = () => 0.5; // no jitter
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(n, mid)),
    [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
  );
});

test("jitter stays within +/-20% and never exceeds the cap", () => {
  assert.equal(backoffDelay(0, () => 0), 800);
  assert.equal(backoffDelay(0, () => 1), 1200);
  assert.equal(backoffDelay(3, () => 0), 6400);
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(10);
    assert.ok(d >= 24000 && d <= BACKOFF_MAX_MS, String(d));
  }
});

test("ids are unique, prefixed and fit the protocol's 64 characters", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newId("terminal")));
  assert.equal(ids.size, 1000);
  for (const id of ids) {
    assert.match(id, /^terminal-[0-9a-f]{24}$/);
    assert.ok(id.length <= 64);
  }
});
