// Reconnect delays for the browser link: 1 s doubling to 30 s, +/-20% jitter, never above the cap. Pure.

export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = 30000;
const JITTER = 0.2;

/** Delay before reconnect attempt number `attempt` (0 = first retry). `random` is injectable for tests. */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, Math.min(attempt, 16)));
  const jittered = base * (1 - JITTER + 2 * JITTER * random());
  return Math.round(Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS * (1 - JITTER), jittered)));
}

/** Unique ids for commands (acked and deduplicated by id). crypto.randomUUID needs a secure context; this doesn't. */
export function newId(prefix = "c") {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return `${prefix}-${hex}`;
}
