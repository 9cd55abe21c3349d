// The audit viewer of the "Devices & security" dialog: an "Audit" button per machine I own opens, under its row, who
// did what when on it (GET /api/audit: commands sent by people it is shared with, never their text, only its length;
// and my own share create/revoke). security.js passes its request helper in.

import { h } from "./dom.js";

const ACTIONS = {
  "share.create": "shared it",
  "share.revoke": "revoked a share",
};

function what(event) {
  const action = ACTIONS[event.type] ?? event.type;
  const parts = [action];
  if (event.detail) parts.push(`with ${event.detail}`);
  parts.push(`as ${event.role}`);
  if (event.session) parts.push(`in ${event.session}`);
  if (event.length != null) parts.push(`(${event.length} characters)`);
  if (!event.allowed) parts.push("— refused");
  return parts.join(" ");
}

function eventRow(event, ago) {
  return h("li", { class: "audit-event", dataset: { type: event.type, allowed: String(event.allowed) } },
    h("span", { class: "device-name" }, event.user?.name ?? "a removed user"),
    h("span", { class: "device-detail" }, what(event)),
    h("time", { class: "device-agent", datetime: event.at || "", title: event.at || "" }, ago(event.at)));
}

export function setupAudit({ api, fail, ago }) {
  async function open(machine, row) {
    const shown = row.querySelector(".audit-list");
    if (shown) {
      shown.remove();
      return;
    }
    const result = await api("GET", `/api/audit?machine=${encodeURIComponent(machine.id)}`);
    if (!result.ok) {
      fail(result, "load the audit trail");
      return;
    }
    const events = result.body?.events ?? [];
    const list = h("ul", { class: "device-list audit-list", dataset: { machine: machine.id } },
      ...(events.length ? events.map((event) => eventRow(event, ago))
        : [h("li", { class: "muted" }, "Nothing recorded: nobody else has done anything on this machine.")]));
    if (result.body?.more) list.append(h("li", { class: "muted" }, "Only the latest events are shown."));
    row.append(list);
  }

  return {
    /** The "Audit" button of a machine's row in the devices list. */
    auditButton(machine) {
      return h("button", { type: "button", class: "text-button", "data-action": "audit", onclick: (event) =>
        open(machine, event.target.closest("li")) }, "Audit");
    },
  };
}
