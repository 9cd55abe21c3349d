import assert from "node:assert/strict";
import { test } from "node:test";

import { createTimelines } from "../../src/imcodes_web/static/js/timeline.js";

const ev = (epoch, seq) => ({ session: "s", epoch, seq, at: 0, kind: "terminal.output", data: {} });

test("in-order events are accepted and advance the cursor", () => {
  const t = createTimelines();
  assert.equal(t.offer("m/s", ev(1, 1)), "accepted");
  assert.equal(t.offer("m/s", ev(1, 2)), "accepted");
  assert.deepEqual(t.cursor("m/s"), { epoch: 1, seq: 2 });
  assert.deepEqual(t.keys(), ["m/s"]);
});

test("duplicates (a replay overlapping live events) are ignored", () => {
  const t = createTimelines();
  t.offer("m/s", ev(1, 1));
  t.offer("m/s", ev(1, 2));
  assert.equal(t.offer("m/s", ev(1, 2)), "duplicate");
  assert.equal(t.offer("m/s", ev(1, 1)), "duplicate");
  assert.deepEqual(t.events("m/s").map((e) => e.seq), [1, 2]);
});

test("a gap is refused so the replay brings the missing events in order", () => {
  const t = createTimelines();
  t.offer("m/s", ev(1, 1));
  assert.equal(t.offer("m/s", ev(1, 4)), "gap");
  assert.deepEqual(t.cursor("m/s"), { epoch: 1, seq: 1 });
  for (const seq of [2, 3, 4]) assert.equal(t.offer("m/s", ev(1, seq)), "accepted");
  assert.deepEqual(t.events("m/s").map((e) => e.seq), [1, 2, 3, 4]);
});

test("a new epoch starts at 1; a new epoch seen mid-way asks for its start", () => {
  const t = createTimelines();
  t.offer("m/s", ev(1, 5 - 4));
  assert.equal(t.offer("m/s", ev(2, 1)), "accepted");
  assert.equal(t.offer("m/s", ev(1, 9)), "duplicate", "an older epoch is history");
  assert.equal(t.offer("m/s", ev(3, 7)), "gap");
  assert.deepEqual(t.cursor("m/s"), { epoch: 3, seq: 0 });
});

test("startAt positions a fresh cursor but never moves an existing one", () => {
  const t = createTimelines();
  t.startAt("m/s", 2, 40);
  assert.equal(t.offer("m/s", ev(2, 40)), "duplicate");
  assert.equal(t.offer("m/s", ev(2, 41)), "accepted");
  t.startAt("m/s", 2, 0);
  assert.deepEqual(t.cursor("m/s"), { epoch: 2, seq: 41 });
});

test("one replay at a time; skipped live events or more pages ask for another", () => {
  const t = createTimelines();
  t.offer("m/s", ev(1, 1));
  assert.equal(t.beginReplay("m/s"), true);
  assert.equal(t.beginReplay("m/s"), false);
  assert.equal(t.endReplay("m/s", false), false);
  assert.equal(t.beginReplay("m/s"), true);
  assert.equal(t.offer("m/s", ev(1, 3)), "gap"); // arrived live while the replay was running
  assert.equal(t.endReplay("m/s", false), true);
  assert.equal(t.beginReplay("m/s"), true);
  assert.equal(t.endReplay("m/s", true), true);
  t.beginReplay("m/s");
  t.resetInFlight();
  assert.equal(t.beginReplay("m/s"), true);
});

test("memory stays bounded", () => {
  const t = createTimelines(10);
  for (let seq = 1; seq <= 100; seq++) t.offer("m/s", ev(1, seq));
  const kept = t.events("m/s").map((e) => e.seq);
  assert.equal(kept.length, 10);
  assert.equal(kept[0], 91);
});
