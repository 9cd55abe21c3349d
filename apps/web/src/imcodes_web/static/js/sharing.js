// Sharing, in the "Devices & security" dialog: a "Share" button per machine opens a small form (another user of this
// server, viewer or participant, the whole machine or one session); the "Sharing" section lists what I shared (each
// revocable: the other person loses it at once) and what others shared with me. Also the view-only mode of the
// session page for machines shared with me as a viewer: no key bar, a "view only" badge, no input sent (the server
// refuses it anyway). security.js passes its request helper (cookie + X-CSRF-Token) in.

import { $, h } from "./dom.js";

/** True when `target` ({machine, session}) was shared with me read-only: the session's own role, not the machine's. */
export function isViewOnly(store, target) {
  return !!target && store.role(target.machine, target.session) === "viewer";
}

/** Session page: the key bar and the "view only" badge follow the current session's role. */
export function applyViewOnly(store, target) {
  const viewOnly = isViewOnly(store, target);
  $("#session-view-only").hidden = !viewOnly;
  if (target) $("#keybar").hidden = viewOnly;
}

function roleLabel(share) {
  return `${share.role}${share.session ? ` of session ${share.session}` : " of the whole machine"}`;
}

export function setupSharing({ api, fail, say, ago, store }) {
  const before = $("#logout-everywhere").closest("section");
  const mine = h("ul", { class: "device-list", id: "shares-mine" });
  const theirs = h("ul", { class: "device-list", id: "shares-theirs" });
  const sharing = h("section", { class: "security-section", id: "security-sharing", "aria-labelledby": "security-sharing-title" },
    h("h3", { id: "security-sharing-title" }, "Sharing"),
    h("p", { class: "small" }, "A viewer watches a machine's sessions; a participant may also type and answer. ",
      "Only you start, stop or rename sessions. What they send is recorded with their name (never the text)."),
    h("h4", {}, "Shared by me"), mine, h("h4", {}, "Shared with me"), theirs);
  before.before(sharing);

  function shareRow(share) {
    return h("li", { class: "device", dataset: { kind: "share", share: String(share.id) } },
      h("div", { class: "device-text" },
        h("span", { class: "device-name" }, share.user.name, h("span", { class: "badge" }, share.role)),
        h("span", { class: "device-detail" }, `${roleLabel(share)} on ${share.hostname || share.machine}, since ${ago(share.created_at)}`)),
      h("div", { class: "device-actions" },
        h("button", { type: "button", class: "text-button danger", "data-action": "revoke-share", onclick: async () => {
          const result = await api("POST", `/api/shares/${share.id}/revoke`);
          if (!result.ok) fail(result, "revoke the share");
          else say(`${share.user.name} no longer has access.`);
          await refresh();
        } }, "Revoke")));
  }

  function receivedRow(share) {
    return h("li", { class: "device", dataset: { kind: "shared-with-me" } },
      h("div", { class: "device-text" },
        h("span", { class: "device-name" }, share.hostname || share.machine, h("span", { class: "badge" }, share.role)),
        h("span", { class: "device-detail" }, `${roleLabel(share)}, from ${share.owner.name}`)));
  }

  async function refresh() {
    const result = await api("GET", "/api/shares");
    if (!result.ok) {
      fail(result, "load the shares");
      return;
    }
    const { shared_by_me: made = [], shared_with_me: received = [] } = result.body ?? {};
    mine.replaceChildren(...(made.length ? made.map(shareRow) : [h("li", { class: "muted" }, "Nothing shared.")]));
    theirs.replaceChildren(...(received.length ? received.map(receivedRow) : [h("li", { class: "muted" }, "Nothing.")]));
  }

  /** The form under a machine's row: whom, which role, the whole machine or one session. */
  async function openForm(machine, row) {
    row.querySelector(".share-form")?.remove();
    const users = await api("GET", "/api/users");
    if (!users.ok) {
      fail(users, "list the people on this server");
      return;
    }
    const people = users.body?.users ?? [];
    if (!people.length) {
      say("Nobody else has an account here yet: invite someone first.");
      return;
    }
    const user = h("select", { name: "user", "aria-label": "Share with" },
      ...people.map((person) => h("option", { value: String(person.id) }, person.name)));
    const role = h("select", { name: "role", "aria-label": "Role" },
      h("option", { value: "viewer" }, "viewer (watch only)"), h("option", { value: "participant" }, "participant (may type)"));
    const sessions = [...(store.machine(machine.id)?.sessions.keys() ?? [])];
    const session = h("select", { name: "session", "aria-label": "What" },
      h("option", { value: "" }, "the whole machine"), ...sessions.map((name) => h("option", { value: name }, `session ${name}`)));
    const form = h("form", { class: "inline-form share-form" }, user, role, session,
      h("button", { type: "submit", class: "primary", "data-action": "confirm-share" }, "Share"),
      h("button", { type: "button", class: "text-button", onclick: () => form.remove() }, "Cancel"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { machine: machine.id, user_id: Number(user.value), role: role.value };
      if (session.value) body.session = session.value;
      const result = await api("POST", "/api/shares", body);
      if (!result.ok) {
        fail(result, "share the machine");
        return;
      }
      say(`Shared with ${user.selectedOptions[0].textContent} as ${role.value}.`);
      form.remove();
      await refresh();
    });
    row.append(form);
  }

  return {
    refresh,
    /** The "Share" button of a machine's row in the devices list. */
    shareButton(machine) {
      return h("button", { type: "button", class: "text-button", "data-action": "share", onclick: (event) =>
        openForm(machine, event.target.closest("li")) }, "Share");
    },
  };
}
