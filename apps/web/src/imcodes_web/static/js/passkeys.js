// The Passkeys section of "Devices & security": the account's passkeys (each removable) and "Add a passkey", which
// runs the registration ceremony with this device's authenticator. Requests go through security.js's `api` (CSRF).

import { $, h } from "./dom.js";
import { creationOptions, credentialToJSON, explainWebAuthnError, passkeysSupported } from "./webauthn.js";

export function setupPasskeys({ api, fail, say, ago }) {
  const list = $("#security-passkeys");
  const add = $("#add-passkey");
  const note = $("#passkeys-note");

  function row(passkey) {
    const actions = h("div", { class: "device-actions" });
    const reset = () =>
      actions.replaceChildren(
        h("button", { type: "button", class: "text-button danger", "data-action": "remove-passkey", onclick: ask }, "Remove"),
      );
    function ask() {
      actions.replaceChildren(
        h("span", { class: "confirm-text" }, `Remove “${passkey.name}”?`),
        h("button", { type: "button", class: "danger-fill", "data-action": "confirm-remove-passkey", onclick: remove }, "Remove"),
        h("button", { type: "button", class: "text-button", onclick: reset }, "Cancel"),
      );
    }
    async function remove() {
      const result = await api("POST", `/api/passkeys/${passkey.id}/delete`);
      if (!result.ok) {
        fail(result, `remove “${passkey.name}”`);
        if (result.status === 404) await refresh();
        else reset();
        return;
      }
      say(`“${passkey.name}” is removed. It can no longer sign in to this account.`);
      await refresh();
    }
    reset();
    return h(
      "li",
      { class: "device", dataset: { kind: "passkey", passkey: String(passkey.id) } },
      h(
        "div",
        { class: "device-text" },
        h("span", { class: "device-name" }, passkey.name),
        h("span", { class: "device-detail", title: passkey.last_used_at || "" },
          `added ${ago(passkey.created_at)}, last used ${ago(passkey.last_used_at)}`),
      ),
      actions,
    );
  }

  async function refresh() {
    const result = await api("GET", "/api/passkeys");
    if (!result.ok) {
      fail(result, "load your passkeys");
      return;
    }
    const { passkeys = [], available, reason } = result.body ?? {};
    list.replaceChildren(
      ...(passkeys.length ? passkeys.map(row) : [h("li", { class: "muted" }, "No passkey yet.")]),
    );
    const usable = available && passkeysSupported();
    add.disabled = !usable;
    note.textContent = !available ? reason : !passkeysSupported() ? "This browser cannot use passkeys." : "";
    note.hidden = !note.textContent;
  }

  async function register() {
    add.disabled = true;
    try {
      const options = await api("POST", "/api/passkeys/register/options");
      if (!options.ok) {
        fail(options, "start adding a passkey");
        return;
      }
      say("Follow your browser's prompt to make the passkey…");
      let credential;
      try {
        credential = await navigator.credentials.create({ publicKey: creationOptions(options.body) });
      } catch (error) {
        say(explainWebAuthnError(error, "Adding a passkey"), "error");
        return;
      }
      const name = `${navigator.platform || "This device"} passkey`.slice(0, 120);
      const result = await api("POST", "/api/passkeys/register", { credential: credentialToJSON(credential), name });
      if (!result.ok) {
        fail(result, "add the passkey");
        return;
      }
      say(`Passkey “${result.body.passkey.name}” added. Use “Sign in with a passkey” on the sign-in page.`);
      await refresh();
    } finally {
      add.disabled = false;
    }
  }

  add.addEventListener("click", register);
  return { refresh };
}
