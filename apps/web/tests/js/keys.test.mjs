import assert from "node:assert/strict";
import { test } from "node:test";

import { applyCtrl, chunkInput, createStickyCtrl, keyBytes } from "../../src/imcodes_web/static/js/keys.js";

test("key bar keys send what xterm would send", () => {
  assert.equal(keyBytes("esc"), "\x1b");
  assert.equal(keyBytes("tab"), "\t");
  assert.equal(keyBytes("ctrl-c"), "\x03");
  assert.equal(keyBytes("up"), "\x1b[A");
  assert.equal(keyBytes("down"), "\x1b[B");
  assert.equal(keyBytes("right"), "\x1b[C");
  assert.equal(keyBytes("left"), "\x1b[D");
});

test("arrows follow application cursor mode and Ctrl", () => {
  assert.equal(keyBytes("up", { appCursor: true }), "\x1bOA");
  assert.equal(keyBytes("left", { ctrl: true }), "\x1b[1;5D");
  assert.equal(keyBytes("left", { ctrl: true, appCursor: true }), "\x1b[1;5D");
});

test("unknown keys are an error, not silence", () => {
  assert.throws(() => keyBytes("hyper"), /unknown key/);
});

test("Ctrl maps letters and symbols to control bytes", () => {
  assert.equal(applyCtrl("c"), "\x03");
  assert.equal(applyCtrl("C"), "\x03");
  assert.equal(applyCtrl("a"), "\x01");
  assert.equal(applyCtrl("z"), "\x1a");
  assert.equal(applyCtrl("["), "\x1b");
  assert.equal(applyCtrl("@"), "\x00");
  assert.equal(applyCtrl("?"), "\x7f");
  assert.equal(applyCtrl("dx"), "\x04x", "only the first character gets the modifier");
  assert.equal(applyCtrl("1"), "1", "no control form: unchanged");
  assert.equal(applyCtrl(""), "");
});

test("sticky Ctrl applies once, then disarms", () => {
  const seen = [];
  const ctrl = createStickyCtrl((armed) => seen.push(armed));
  assert.equal(ctrl.consume("c"), "c");
  ctrl.toggle();
  assert.equal(ctrl.armed, true);
  assert.equal(ctrl.consume("c"), "\x03");
  assert.equal(ctrl.armed, false);
  assert.equal(ctrl.consume("c"), "c");
  ctrl.toggle();
  assert.equal(ctrl.take(), true);
  assert.equal(ctrl.take(), false);
  assert.deepEqual(seen, [true, false, true, false]);
});

test("large pastes are split under the limit without breaking surrogate pairs", () => {
  assert.deepEqual(chunkInput("abc", 10), ["abc"]);
  const text = "x".repeat(9) + "😀" + "y".repeat(20); // the emoji straddles the first boundary
  const chunks = chunkInput(text, 10);
  assert.equal(chunks.join(""), text);
  for (const c of chunks) assert.ok(c.length <= 10);
  assert.equal(chunks[0], "x".repeat(9));
  assert.ok(chunks[1].startsWith("😀"));
});
