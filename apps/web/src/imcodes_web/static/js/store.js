// The client's model of machines, sessions, link status and unread marks, fed by server frames. Pure (no DOM):
// tested with node. The UI re-renders from it on every change.

import { grantsFromShares, sessionRole } from "./roles.js";

export const KNOWN_STATES = ["starting", "idle", "working", "waiting_permission", "error", "exited", "setup"];

const ENDED_KEPT = 10;
export const sessionKey = (machine, session) => `${machine}/${session}`;

/** A session's "why" for the UI: state_reason.reason, or "" when the daemon gave none. */
export function stateReason(session) {
  const reason = session?.state_reason?.reason;
  return typeof reason === "string" ? reason : "";
}

export function stateClass(state) {
  return KNOWN_STATES.includes(state) ? state : "unknown";
}

const newer = (a, b) => a.epoch > b.epoch || (a.epoch === b.epoch && a.seq > b.seq);

/**
 * seen: a Map key -> {epoch, seq} of the last timeline position the user looked at (persisted by the caller, so
 * unread marks survive a reload). onSeen(key, pos) is called whenever that changes.
 */
export function createStore({ seen = new Map(), onSeen = () => {} } = {}) {
  const machines = new Map(); // name -> {machine, hostname, online, role, drivers, sessions: Map}
  const listeners = new Set();
  const ended = new Map(); // machine -> sessions that ended with a known agent conversation (newest first)
  let grants = new Map(); // machine -> what was shared with me of it (roles.js), from GET /api/shares
  let viewing = null; // {machine, session} or null
  let loaded = false;

  const changed = () => {
    for (const fn of listeners) fn();
  };

  function markSeen(key, session) {
    const pos = { epoch: session.epoch ?? 1, seq: session.seq ?? 0 };
    const old = seen.get(key);
    if (!old || newer(pos, old)) {
      seen.set(key, pos);
      onSeen(key, pos);
    }
  }

  function putSession(machineName, info, { live }) {
    const m = machines.get(machineName);
    if (!m) return;
    const key = sessionKey(machineName, info.name);
    const old = m.sessions.get(info.name);
    // our copy's seq only moves forward (timeline events may have told us more than a stale update)
    const merged = old && old.epoch === info.epoch && old.seq > info.seq ? { ...info, seq: old.seq } : info;
    m.sessions.set(info.name, merged);
    if (!seen.has(key)) {
      // first sight: a session that existed when we loaded is not "unread"; one created live is
      if (live) {
        seen.set(key, { epoch: merged.epoch ?? 1, seq: 0 });
        onSeen(key, seen.get(key));
      } else markSeen(key, merged);
    }
    if (isViewing(machineName, info.name)) markSeen(key, merged);
  }

  function isViewing(machine, session) {
    return viewing !== null && viewing.machine === machine && viewing.session === session;
  }

  return {
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    get loaded() {
      return loaded;
    },
    get viewing() {
      return viewing;
    },
    machines: () => [...machines.values()],
    machine: (name) => machines.get(name) ?? null,
    /** My role in `session` of `machine` (roles.sessionRole), or null for a machine not listed. */
    role(machine, session) {
      const m = machines.get(machine);
      return m ? sessionRole(m.role, grants.get(machine), session) : null;
    },
    /** GET /api/shares' shared_with_me: which role each shared session gives me. */
    applyShares(rows) {
      grants = grantsFromShares(rows);
      changed();
    },
    session: (machine, session) => machines.get(machine)?.sessions.get(session) ?? null,
    sessions(machine) {
      const m = machines.get(machine);
      if (!m) return [];
      return [...m.sessions.values()].sort((a, b) => (a.created_at ?? 0) - (b.created_at ?? 0));
    },
    isUnread(machine, session) {
      if (isViewing(machine, session)) return false;
      const s = machines.get(machine)?.sessions.get(session);
      const pos = seen.get(sessionKey(machine, session));
      if (!s || !pos) return false;
      return newer({ epoch: s.epoch ?? 1, seq: s.seq ?? 0 }, pos);
    },
    /** `machines` frame: the full picture after each (re)connect. */
    applyMachines(list) {
      const live = loaded;
      machines.clear();
      for (const m of list) {
        machines.set(m.machine, {
          machine: m.machine,
          hostname: m.hostname ?? "",
          online: Boolean(m.online),
          role: m.role ?? "owner",
          drivers: m.drivers ?? [],
          sessions: new Map(),
        });
        for (const s of m.sessions ?? []) putSession(m.machine, s, { live });
      }
      loaded = true;
      changed();
    },
    applySessionUpdated(machine, info) {
      if (!machines.has(machine)) {
        machines.set(machine, { machine, hostname: "", online: true, role: "owner", drivers: [], sessions: new Map() });
      }
      putSession(machine, info, { live: true });
      changed();
    },
    applySessionRemoved(machine, session) {
      const info = machines.get(machine)?.sessions.get(session);
      if (info?.conversation) {
        // what "Resume" in the new-session dialog offers: the agent can continue this conversation
        const kept = (ended.get(machine) ?? []).filter((s) => s.conversation !== info.conversation);
        ended.set(machine, [info, ...kept].slice(0, ENDED_KEPT));
      }
      machines.get(machine)?.sessions.delete(session);
      changed();
    },
    /** Sessions of `machine` that ended (in this page's life) with a conversation their agent can resume. */
    endedConversations: (machine) => ended.get(machine) ?? [],
    applyLinkStatus(machine, online) {
      const m = machines.get(machine);
      if (m) {
        m.online = Boolean(online);
        changed();
      }
    },
    /** A timeline event: advances our copy of the session's position (drives unread marks). */
    noteEvent(machine, event) {
      const s = machines.get(machine)?.sessions.get(event.session);
      if (!s) return;
      if (newer({ epoch: event.epoch, seq: event.seq }, { epoch: s.epoch ?? 1, seq: s.seq ?? 0 })) {
        machines.get(machine).sessions.set(event.session, { ...s, epoch: event.epoch, seq: event.seq });
      }
      if (isViewing(machine, event.session)) markSeen(sessionKey(machine, event.session), event);
      changed();
    },
    view(machine, session) {
      viewing = machine === null ? null : { machine, session };
      const s = viewing && machines.get(machine)?.sessions.get(session);
      if (s) markSeen(sessionKey(machine, session), s);
      changed();
    },
  };
}
