// Per-session timeline cursors: the last (epoch, seq) this browser holds, so a reconnect replays from there with no
// gap and no duplicate. Pure: tested with node.

export const KEEP_EVENTS = 500; // events kept in memory per session (the server holds the full timeline)

export function createTimelines(keep = KEEP_EVENTS) {
  const byKey = new Map(); // key -> {epoch, seq, events, replaying, missed}

  function entry(key) {
    let e = byKey.get(key);
    if (!e) {
      e = { epoch: 0, seq: 0, events: [], replaying: false, missed: false };
      byKey.set(key, e);
    }
    return e;
  }

  return {
    has: (key) => byKey.has(key) && byKey.get(key).epoch > 0,
    cursor(key) {
      const e = byKey.get(key);
      return e ? { epoch: e.epoch, seq: e.seq } : { epoch: 0, seq: 0 };
    },
    events: (key) => (byKey.get(key)?.events ?? []).slice(),
    /** Start following a session from (epoch, seq) when we hold nothing for it yet. */
    startAt(key, epoch, seq) {
      const e = entry(key);
      if (e.epoch === 0) {
        e.epoch = epoch;
        e.seq = seq;
      }
    },
    /**
     * Offer one event. Returns "accepted", "duplicate" (already held: ignore) or "gap" (events are missing before
     * it: the caller asks for a replay from cursor(); the event itself will come back with that replay).
     */
    offer(key, event) {
      const e = entry(key);
      if (e.epoch !== 0) {
        if (event.epoch < e.epoch || (event.epoch === e.epoch && event.seq <= e.seq)) return "duplicate";
        const next = event.epoch === e.epoch ? e.seq + 1 : 1;
        if (event.seq !== next) {
          if (event.epoch > e.epoch) {
            // a new epoch whose start we missed: follow the new epoch from its beginning
            e.epoch = event.epoch;
            e.seq = 0;
          }
          e.missed = true;
          return "gap";
        }
      }
      e.epoch = event.epoch;
      e.seq = event.seq;
      e.events.push(event);
      if (e.events.length > keep) e.events.splice(0, e.events.length - keep);
      return "accepted";
    },
    /** Mark a replay in flight; returns false when one already is (so we never ask twice at once). */
    beginReplay(key) {
      const e = entry(key);
      if (e.replaying) return false;
      e.replaying = true;
      e.missed = false;
      return true;
    },
    /** A replay finished; returns true when another is needed (more pages, or live events skipped meanwhile). */
    endReplay(key, more) {
      const e = entry(key);
      e.replaying = false;
      const again = Boolean(more) || e.missed;
      e.missed = false;
      return again;
    },
    /** After a reconnect nothing is in flight any more. */
    resetInFlight() {
      for (const e of byKey.values()) e.replaying = false;
    },
    forget: (key) => byKey.delete(key),
    keys: () => [...byKey.keys()].filter((k) => byKey.get(k).epoch > 0),
  };
}
