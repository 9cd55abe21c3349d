// Two sections of the "Devices & security" dialog: "Invite someone" (owner only: one-time links that create a new
// account, shown once, listed with their state, withdrawable) and "API keys" (for scripts: made with a name and
// scopes, shown once with a copy button, listed with their last use, revocable). The sections are built here and
// placed before "Sign out everywhere"; security.js passes its request helper (cookie + X-CSRF-Token) in.

import { $, h } from "./dom.js";

/** Copy `text`, falling back to selecting `el` so the person can copy it by hand. */
async function copy(text, el, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(el);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    button.textContent = "Selected: press Ctrl+C";
  }
}

/** A secret shown once: the value, a copy button and a warning that it will not be shown again. */
function shownOnce(id, value, warning) {
  const code = h("code", { class: "copyable", id }, value);
  const button = h("button", { type: "button", class: "primary", "data-action": "copy" }, "Copy");
  button.addEventListener("click", () => copy(value, code, button));
  return [h("p", {}, h("strong", {}, warning)), code, button];
}

function section(id, title, ...children) {
  return h("section", { class: "security-section", id, "aria-labelledby": `${id}-title` },
    h("h3", { id: `${id}-title` }, title), ...children);
}

/** A Revoke button that asks once more in place; `onConfirm` resolves false to put the button back. */
export function confirmButton(label, question, onConfirm, action = "revoke") {
  const cell = h("div", { class: "device-actions" });
  const reset = () => cell.replaceChildren(
    h("button", { type: "button", class: "text-button danger", "data-action": action, onclick: ask }, label));
  function ask() {
    cell.replaceChildren(
      h("span", { class: "confirm-text" }, question),
      h("button", { type: "button", class: "danger-fill", "data-action": `confirm-${action}`,
        onclick: async () => { if (!(await onConfirm())) reset(); } }, label),
      h("button", { type: "button", class: "text-button", onclick: reset }, "Cancel"),
    );
  }
  reset();
  return cell;
}

export function setupAccounts({ api, fail, say, ago }) {
  const before = $("#logout-everywhere").closest("section");

  // --- Invite someone (owner only) -----------------------------------------------------------------------------
  const inviteList = h("ul", { class: "device-list", id: "invitations" });
  const inviteResult = h("div", { class: "pair-result", id: "invitation-result", hidden: true });
  const noteInput = h("input", { id: "invitation-note", name: "note", maxlength: "120", placeholder: "who it is for (optional)" });
  const inviteForm = h("form", { class: "inline-form" }, noteInput,
    h("button", { type: "submit", class: "primary", id: "invite-someone" }, "Invite someone"));
  const invitations = section("security-invitations", "Invite someone",
    h("p", { class: "small" }, "Makes a one-time link, valid 7 days, that creates a new account on this server. ",
      "The new person sees only their own machines, never yours."),
    inviteForm, inviteResult, inviteList);
  invitations.hidden = true;

  function invitationRow(row) {
    const label = row.note || `Invitation ${row.id}`;
    const detail = row.state === "used" ? `used by ${row.used_by || "a deleted user"} ${ago(row.used_at)}`
      : row.state === "pending" ? `expires ${new Date(row.expires_at).toLocaleString()}`
      : row.state === "expired" ? "expired" : "withdrawn";
    return h("li", { class: "device", dataset: { kind: "invitation", state: row.state } },
      h("div", { class: "device-text" },
        h("span", { class: "device-name" }, label, h("span", { class: "badge" }, row.state)),
        h("span", { class: "device-detail" }, `made ${ago(row.created_at)}, ${detail}`)),
      row.state !== "pending" ? null : confirmButton("Withdraw", `Withdraw “${label}”?`, async () => {
        const result = await api("POST", `/api/invitations/${row.id}/revoke`);
        if (!result.ok) {
          fail(result, "withdraw the invitation");
          return false;
        }
        say(`“${label}” is withdrawn: the link no longer works.`);
        await refreshInvitations();
        return true;
      }));
  }

  async function refreshInvitations() {
    const result = await api("GET", "/api/invitations");
    if (!result.ok) {
      fail(result, "load the invitations");
      return;
    }
    const rows = result.body?.invitations ?? [];
    inviteList.replaceChildren(...(rows.length ? rows.map(invitationRow) : [h("li", { class: "muted" }, "No invitation yet.")]));
  }

  inviteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await api("POST", "/api/invitations", { note: noteInput.value.trim() });
    if (!result.ok) {
      fail(result, "make an invitation");
      return;
    }
    noteInput.value = "";
    inviteResult.replaceChildren(
      ...shownOnce("invitation-link", result.body.url, "Send this link to the person you invite: it is shown only this once."),
      h("p", { class: "small" }, "It works once, for 7 days. Open it in their browser, not yours (it signs that browser in as the new account)."),
    );
    inviteResult.hidden = false;
    await refreshInvitations();
  });

  // --- API keys --------------------------------------------------------------------------------------------------
  const keyList = h("ul", { class: "device-list", id: "api-keys" });
  const keyResult = h("div", { class: "pair-result", id: "api-key-result", hidden: true });
  const keyName = h("input", { id: "api-key-name", name: "name", maxlength: "120", placeholder: "name, e.g. CI deploy", required: true });
  const scopeBox = h("fieldset", { class: "scope-choices", id: "api-key-scopes" });
  const keyForm = h("form", { class: "inline-form" }, keyName, scopeBox,
    h("button", { type: "submit", class: "primary", id: "create-api-key" }, "Create key"));
  const keys = section("security-api-keys", "API keys",
    h("p", { class: "small" }, "For scripts: send ", h("code", {}, "Authorization: Bearer imk_…"),
      ". A key works only on the routes of its scopes, never for signing out or managing keys and invitations."),
    keyForm, keyResult, keyList);

  function renderScopes(scopes) {
    if (scopeBox.childElementCount) return;
    scopeBox.append(h("legend", { class: "small" }, "Scopes"),
      ...Object.entries(scopes).map(([name, what]) => h("label", { class: "small", title: what },
        h("input", { type: "checkbox", name: "scope", value: name, checked: name === "read" }), ` ${name}: ${what}`)));
  }

  function keyRow(key) {
    return h("li", { class: "device", dataset: { kind: "api-key", state: key.revoked ? "revoked" : "active" } },
      h("div", { class: "device-text" },
        h("span", { class: "device-name" }, key.name, h("span", { class: "badge" }, key.revoked ? "revoked" : key.scopes.join(", "))),
        h("span", { class: "device-detail", title: key.last_used_at || "" }, `last used ${ago(key.last_used_at)}`),
        h("span", { class: "device-agent" }, `${key.prefix}…, made ${ago(key.created_at)}`)),
      key.revoked ? null : confirmButton("Revoke", `Revoke “${key.name}”? Scripts using it stop at once.`, async () => {
        const result = await api("POST", `/api/keys/${key.id}/revoke`);
        if (!result.ok) {
          fail(result, "revoke the key");
          return false;
        }
        say(`“${key.name}” is revoked.`);
        await refreshKeys();
        return true;
      }));
  }

  async function refreshKeys() {
    const result = await api("GET", "/api/keys");
    if (!result.ok) {
      fail(result, "load the API keys");
      return;
    }
    renderScopes(result.body?.scopes ?? {});
    const rows = result.body?.keys ?? [];
    keyList.replaceChildren(...(rows.length ? rows.map(keyRow) : [h("li", { class: "muted" }, "No API key yet.")]));
  }

  keyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const scopes = [...scopeBox.querySelectorAll("input[name=scope]:checked")].map((box) => box.value);
    if (!scopes.length) {
      say("Choose at least one scope for the key.", "error");
      return;
    }
    const result = await api("POST", "/api/keys", { name: keyName.value.trim(), scopes });
    if (!result.ok) {
      fail(result, "create the key");
      return;
    }
    keyName.value = "";
    keyResult.replaceChildren(...shownOnce("api-key-value", result.body.key, "Copy the key now: it is shown only this once."));
    keyResult.hidden = false;
    await refreshKeys();
  });

  before.before(invitations, keys);

  return {
    /** The "Invite someone" section (people.js places "People" after it). */
    invitationsSection: invitations,
    /** After someone was removed: their used invitation now reads "a deleted user" (links shown stay). */
    async reloadInvitations() {
      if (!invitations.hidden) await refreshInvitations();
    },
    /** Called each time the dialog opens: secrets shown earlier are cleared, lists reloaded. */
    async refresh() {
      for (const box of [inviteResult, keyResult]) {
        box.hidden = true;
        box.replaceChildren();
      }
      const me = await api("GET", "/api/me");
      invitations.hidden = !me.body?.user?.owner;
      await Promise.all([invitations.hidden ? null : refreshInvitations(), refreshKeys()]);
    },
  };
}
