import assert from "node:assert/strict";
import { test } from "node:test";

import {
  Kind,
  decodeBinaryFrame,
  encodeBinaryFrame,
  splitStream,
  streamName,
} from "../../src/imcodes_web/static/js/binary.js";

const bytes = (...xs) => new Uint8Array(xs);

test("decodes a hand-built OUTPUT frame", () => {
  // version 1, kind 1, name length 5, "m1/s1", payload "hi"
  const raw = bytes(1, 1, 0, 5, 0x6d, 0x31, 0x2f, 0x73, 0x31, 0x68, 0x69);
  const frame = decodeBinaryFrame(raw.buffer);
  assert.equal(frame.kind, Kind.OUTPUT);
  assert.equal(frame.stream, "m1/s1");
  assert.deepEqual([...frame.payload], [0x68, 0x69]);
});

test("round trips every kind with a UTF-8 name and an empty payload", () => {
  for (const kind of [Kind.OUTPUT, Kind.SNAPSHOT, Kind.RESET]) {
    const encoded = encodeBinaryFrame(kind, "machine-é/shell-1a2b", new Uint8Array());
    const frame = decodeBinaryFrame(encoded);
    assert.equal(frame.kind, kind);
    assert.equal(frame.stream, "machine-é/shell-1a2b");
    assert.equal(frame.payload.length, 0);
  }
});

test("the name length is big-endian", () => {
  const name = "n".repeat(256);
  const encoded = encodeBinaryFrame(Kind.SNAPSHOT, name, bytes(7));
  assert.equal(encoded[2], 1);
  assert.equal(encoded[3], 0);
  assert.equal(decodeBinaryFrame(encoded).stream, name);
});

test("malformed frames are rejected with a reason", () => {
  assert.throws(() => decodeBinaryFrame(bytes(1, 1, 0)), /shorter than its header/);
  assert.throws(() => decodeBinaryFrame(bytes(2, 1, 0, 1, 0x61)), /version 2/);
  assert.throws(() => decodeBinaryFrame(bytes(1, 9, 0, 1, 0x61)), /kind 9/);
  assert.throws(() => decodeBinaryFrame(bytes(1, 1, 0, 0)), /stream name length/);
  assert.throws(() => decodeBinaryFrame(bytes(1, 1, 0, 5, 0x61)), /stream name length/);
  assert.throws(() => decodeBinaryFrame(bytes(1, 1, 1, 1, 0x61)), /stream name length/);
  assert.throws(() => decodeBinaryFrame(bytes(1, 1, 0, 1, 0xff)), /not UTF-8/);
});

test("stream names join and split machine and session", () => {
  assert.equal(streamName("m", "s"), "m/s");
  assert.deepEqual(splitStream("m/s"), { machine: "m", session: "s" });
  assert.equal(splitStream("nos"), null);
  assert.equal(splitStream("/s"), null);
  assert.equal(splitStream("m/"), null);
});
