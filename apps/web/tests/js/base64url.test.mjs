import assert from "node:assert/strict";
import { test } from "node:test";

import { base64urlToBytes, bytesToBase64url } from "../../src/imcodes_web/static/js/base64url.js";

test("round trips every length and byte value, without padding or +/", () => {
  for (let length = 0; length < 70; length++) {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + length) % 256);
    const text = bytesToBase64url(bytes);
    assert.match(text, /^[A-Za-z0-9_-]*$/);
    assert.deepEqual(base64urlToBytes(text), bytes);
  }
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(base64urlToBytes(bytesToBase64url(all.buffer)), all);
});

test("known vectors (RFC 4648) and padding accepted on input", () => {
  assert.equal(bytesToBase64url(new TextEncoder().encode("foob")), "Zm9vYg");
  assert.equal(bytesToBase64url(Uint8Array.of(0xfb, 0xff)), "-_8");
  assert.deepEqual(base64urlToBytes("Zm9vYg=="), new TextEncoder().encode("foob"));
  assert.deepEqual(base64urlToBytes("-_8"), Uint8Array.of(0xfb, 0xff));
});

test("a view into a larger buffer encodes only its own bytes", () => {
  const buffer = Uint8Array.of(1, 2, 3, 4, 5);
  assert.equal(bytesToBase64url(buffer.subarray(1, 3)), bytesToBase64url(Uint8Array.of(2, 3)));
});

test("rejects text outside the alphabet", () => {
  assert.throws(() => base64urlToBytes("a+b/"), TypeError);
  assert.throws(() => base64urlToBytes(null), TypeError);
});
