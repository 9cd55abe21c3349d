// The sidebar: machines (online/offline) and their sessions with state, reason and unread marks.

import { h } from "./dom.js";
import { stateClass, stateReason } from "./store.js";

const STATE_LABEL = {
  starting: "starting",
  idle: "idle",
  working: "working",
  waiting_permission: "needs permission",
  error: "error",
  exited: "exited",
  setup: "setup",
  unknown: "unknown",
};

export function sessionTitle(session) {
  return session.label || session.name;
}

function sessionRow(store, machine, session, onOpen) {
  const state = stateClass(session.state);
  const reason = stateReason(session);
  const unread = store.isUnread(machine.machine, session.name);
  const viewing = store.viewing;
  const current = viewing && viewing.machine === machine.machine && viewing.session === session.name;
  const stateText = STATE_LABEL[state] ?? session.state;
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: `session${current ? " current" : ""}${unread ? " unread" : ""}`,
        dataset: { machine: machine.machine, session: session.name, state },
        title: reason ? `${stateText}: ${reason}` : stateText,
        "aria-current": current ? "true" : undefined,
        onclick: () => onOpen(machine.machine, session.name),
      },
      h("span", { class: `state-dot state-${state}`, "aria-hidden": "true" }),
      h(
        "span",
        { class: "session-text" },
        h("span", { class: "session-label", text: sessionTitle(session) }),
        h("span", { class: "session-detail", text: reason ? `${stateText} · ${reason}` : stateText }),
      ),
      unread ? h("span", { class: "unread-mark", title: "new activity", text: "new" }) : null,
    ),
  );
}

export function renderSidebar(root, store, { onOpen }) {
  const machines = store.machines().sort((a, b) => a.machine.localeCompare(b.machine));
  const nodes = [];
  if (!store.loaded) nodes.push(h("p", { class: "muted", text: "Connecting…" }));
  else if (machines.length === 0) {
    nodes.push(h("p", { class: "muted", text: "No machines yet. Pair one with `imcodes up` or `imcodes bind`." }));
  }
  for (const m of machines) {
    const sessions = store.sessions(m.machine);
    nodes.push(
      h(
        "section",
        { class: "machine", dataset: { machine: m.machine, online: String(m.online) } },
        h(
          "h2",
          { class: "machine-name", title: m.hostname || m.machine },
          h("span", { class: `link-dot ${m.online ? "online" : "offline"}`, "aria-hidden": "true" }),
          h("span", { text: m.hostname || m.machine }),
          h("span", { class: "machine-status", text: m.online ? "online" : "offline" }),
        ),
        sessions.length
          ? h("ul", { class: "sessions" }, sessions.map((s) => sessionRow(store, m, s, onOpen)))
          : h("p", { class: "muted small", text: "No sessions" }),
      ),
    );
  }
  root.replaceChildren(...nodes);
}
