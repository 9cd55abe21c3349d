// The "Devices & security" dialog: browsers and machines (each revocable), pairing a new machine with a one-time
// code, passkeys (passkeys.js), invitations and API keys (accounts.js), people (people.js), sign-out everywhere, and
// the TOTP second factor (enrol, confirm, recovery codes shown once, disable).
// Every state-changing request is a cookie-authenticated POST with the X-CSRF-Token header, as the server requires.

import { readCookie } from "./connection.js";
import { $, h } from "./dom.js";
import { setupPasskeys } from "./passkeys.js";
import { setupAccounts } from "./accounts.js";
import { setupAudit } from "./audit.js";
import { setupPeople } from "./people.js";
import { setupSharing } from "./sharing.js";

/** A failed request as a sentence that says what to do next. */
export function explainFailure(status, body, action) {
  const code = body?.error?.code;
  const message = body?.error?.message;
  if (status === 0) return `Could not ${action}: the server is unreachable. Check your connection and try again.`;
  if (status === 401) return `Could not ${action}: this browser is no longer signed in. Run imcodes login-link on the server and open the new link.`;
  if (code === "bad_csrf" || code === "bad_origin") return `Could not ${action}: this page is out of date. Reload it and try again.`;
  if (status === 429) return message || `Too many attempts. Wait a few minutes, then try again.`;
  if (status === 404) return `Could not ${action}: it is already gone. The list has been refreshed.`;
  if (status >= 500) return `Could not ${action}: the server had a problem. Try again; if it persists, check the server's log.`;
  return `Could not ${action}: ${message || `the server answered ${status}`}.`;
}

/** A cookie-authenticated request (X-CSRF-Token on every POST): {ok, status, body}; status 0 when unreachable. */
export async function api(method, url, body) {
  const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") options.headers["X-CSRF-Token"] = readCookie("imcodes_csrf");
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    return { ok: false, status: 0, body: null };
  }
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    // an error page or an empty body: the status says enough
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

/** "3 min ago" for a timestamp, "never" when there is none. */
export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return "unknown";
  if (seconds < 60) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

/** A short name for a user agent ("Chrome on Linux"); the full string stays in the row. */
export function browserName(agent = "") {
  const browser = /Edg\//.test(agent) ? "Edge"
    : /Firefox\//.test(agent) ? "Firefox"
    : /Chrome\/|Chromium\//.test(agent) ? "Chrome"
    : /Safari\//.test(agent) ? "Safari"
    : "Browser";
  const system = /iPhone|iPad/.test(agent) ? "iOS"
    : /Android/.test(agent) ? "Android"
    : /Mac OS X/.test(agent) ? "macOS"
    : /Windows/.test(agent) ? "Windows"
    : /Linux|X11/.test(agent) ? "Linux"
    : "";
  return system ? `${browser} on ${system}` : browser;
}

/** The base32 secret inside an otpauth:// URI, for typing into an app by hand. */
export function secretFromUri(uri) {
  const found = /[?&]secret=([A-Za-z2-7=]+)/.exec(uri || "");
  return found ? found[1].toUpperCase() : "";
}

const grouped = (secret) => secret.replace(/=+$/, "").match(/.{1,4}/g)?.join(" ") ?? "";

function setStatus(el, text, kind = "info") {
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = !text;
}

export function setupSecurity({ store }) {
  const dialog = $("#security-dialog");
  const status = $("#security-status");
  const browsers = $("#security-browsers");
  const machines = $("#security-machines");
  const totpBox = $("#security-totp");
  const pairResult = $("#pair-result");

  const fail = (result, action) => setStatus(status, explainFailure(result.status, result.body, action), "error");
  const passkeys = setupPasskeys({ api, fail, say: (text, kind) => setStatus(status, text, kind), ago });
  const accounts = setupAccounts({ api, fail, say: (text, kind) => setStatus(status, text, kind), ago });
  const sharing = setupSharing({ api, fail, say: (text, kind) => setStatus(status, text, kind), ago, store });
  const people = setupPeople({ api, fail, say: (text, kind) => setStatus(status, text, kind), ago,
    after: accounts.invitationsSection,
    onRemoved: () => Promise.all([sharing.refresh(), accounts.reloadInvitations()]) });
  const audit = setupAudit({ api, fail, ago });

  /** A row's Revoke button asks once more in place, then POSTs. */
  function revokeButton(label, what, url, after) {
    const cell = h("div", { class: "device-actions" });
    const ask = () => {
      cell.replaceChildren(
        h("span", { class: "confirm-text" }, `Revoke ${what}?`),
        h("button", { type: "button", class: "danger-fill", "data-action": "confirm-revoke", onclick: go }, "Revoke"),
        h("button", { type: "button", class: "text-button", onclick: reset }, "Cancel"),
      );
    };
    const reset = () =>
      cell.replaceChildren(
        h("button", { type: "button", class: "text-button danger", "data-action": "revoke", onclick: ask }, label),
      );
    async function go() {
      const result = await api("POST", url);
      if (!result.ok) {
        fail(result, `revoke ${what}`);
        if (result.status === 404) await refreshDevices();
        else reset();
        return;
      }
      await after(result.body);
    }
    reset();
    return cell;
  }

  function browserRow(session) {
    const name = browserName(session.user_agent);
    return h(
      "li",
      { class: "device", dataset: { kind: "browser", current: String(session.current) } },
      h(
        "div",
        { class: "device-text" },
        h("span", { class: "device-name" }, name, session.current ? h("span", { class: "badge" }, "this browser") : null),
        h("span", { class: "device-detail", title: session.last_used_at || "" }, `last used ${ago(session.last_used_at)}`),
        h("span", { class: "device-agent", title: session.user_agent || "" }, session.user_agent || "unknown user agent"),
      ),
      revokeButton("Revoke", session.current ? "this browser (you will be signed out here)" : `“${name}”`,
        `/api/devices/web/${session.id}/revoke`, async (body) => {
          if (body?.current) location.assign("/");
          else {
            setStatus(status, `${name} is signed out.`);
            await refreshDevices();
          }
        }),
    );
  }

  function machineRow(machine) {
    const online = !machine.revoked && store.machine(machine.id)?.online === true;
    const state = machine.revoked ? "revoked" : online ? "online" : "offline";
    const label = machine.hostname || machine.id;
    return h(
      "li",
      { class: "device", dataset: { kind: "machine", state, machine: machine.id } },
      h(
        "div",
        { class: "device-text" },
        h("span", { class: "device-name" }, h("span", { class: `link-dot ${online ? "online" : "offline"}` }), label,
          h("span", { class: "badge" }, state)),
        h("span", { class: "device-detail", title: machine.last_seen || "" },
          online ? "connected now" : `last seen ${ago(machine.last_seen)}`),
        h("span", { class: "device-agent" }, machine.id),
      ),
      machine.revoked ? null : sharing.shareButton(machine),
      audit.auditButton(machine),
      machine.revoked
        ? null
        : revokeButton("Revoke", `“${label}” (its daemon is disconnected and its token stops working)`,
            `/api/machines/${encodeURIComponent(machine.id)}/revoke`, async () => {
              setStatus(status, `${label} is revoked. To use it again, pair it with a new code.`);
              await refreshDevices();
            }),
    );
  }

  async function refreshDevices() {
    const result = await api("GET", "/api/devices");
    if (!result.ok) {
      fail(result, "load your devices");
      return;
    }
    const { web_sessions: sessions = [], machines: rows = [] } = result.body ?? {};
    browsers.replaceChildren(...sessions.map(browserRow));
    machines.replaceChildren(
      ...(rows.length ? rows.map(machineRow) : [h("li", { class: "muted" }, "No machine is paired yet.")]),
    );
  }

  async function newPairingCode() {
    const result = await api("POST", "/api/pairing-codes");
    if (!result.ok) {
      fail(result, "make a pairing code");
      return;
    }
    const { code, expires_at: expires, server } = result.body;
    const command = `imcodes bind ${server || location.origin} --code ${code}`;
    const until = new Date(expires);
    pairResult.replaceChildren(
      h("p", {}, "On the machine to pair, run:"),
      h("code", { class: "copyable", id: "pair-command" }, command),
      h("p", { class: "small" }, "One-time code ", h("strong", { id: "pair-code" }, code),
        `, valid until ${Number.isNaN(until.getTime()) ? "10 minutes from now" : until.toLocaleTimeString()}. `,
        "Then start its daemon with ", h("code", {}, "imcodes daemon"), "; it appears under Machines."),
    );
    pairResult.hidden = false;
  }

  // --- TOTP ------------------------------------------------------------------------------------------------------

  function codeForm(id, buttonText, onCode) {
    const input = h("input", {
      id, name: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "32",
      placeholder: "123456", spellcheck: "false",
    });
    const form = h("form", { class: "inline-form" }, input, h("button", { type: "submit", class: "primary" }, buttonText));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const code = input.value.trim();
      if (!code) return input.focus();
      await onCode(code, input);
    });
    return form;
  }

  async function refreshTotp() {
    const result = await api("GET", "/api/totp");
    if (!result.ok) {
      fail(result, "load the second-factor status");
      return;
    }
    const { enrolled, recovery_codes_left: left } = result.body;
    totpBox.dataset.enrolled = String(Boolean(enrolled));
    if (!enrolled) {
      totpBox.replaceChildren(
        h("p", {}, "Off. Sign-in links alone get into this account. Turn on a code from an authenticator app as a second step."),
        h("button", { type: "button", class: "primary", id: "totp-enrol", onclick: startEnrolment }, "Turn on"),
      );
      return;
    }
    totpBox.replaceChildren(
      h("p", {}, "On. ", `${left} recovery code${left === 1 ? "" : "s"} left.`,
        left <= 2 ? " Few left: turn it off and on again to get new ones." : ""),
      h("p", { class: "small" }, "To turn it off, enter a current code or a recovery code:"),
      codeForm("totp-disable-code", "Turn off", async (code, input) => {
        const answer = await api("POST", "/api/totp/disable", { code });
        if (!answer.ok) {
          fail(answer, "turn off the second factor");
          input.select();
          return;
        }
        setStatus(status, "The second factor is off.");
        await refreshTotp();
      }),
    );
  }

  async function startEnrolment() {
    const result = await api("POST", "/api/totp/enrol");
    if (!result.ok) {
      fail(result, "start the enrolment");
      return;
    }
    const uri = result.body.otpauth_uri;
    const secret = secretFromUri(uri);
    setStatus(status, "");
    totpBox.replaceChildren(
      h("p", {}, "1. In your authenticator app, add an account with this link (paste it) or type the secret by hand:"),
      h("code", { class: "copyable", id: "totp-uri" }, uri),
      h("p", { class: "small" }, "Secret: ", h("strong", { class: "copyable", id: "totp-secret", dataset: { secret } }, grouped(secret)),
        " (time-based, 6 digits, 30 seconds)"),
      h("p", {}, "2. Enter the 6-digit code the app shows:"),
      codeForm("totp-confirm-code", "Confirm", async (code, input) => {
        const answer = await api("POST", "/api/totp/confirm", { code });
        if (!answer.ok) {
          const hint = answer.status === 400 ? " Check that the phone's clock is right, then enter the newest code." : "";
          setStatus(status, explainFailure(answer.status, answer.body, "confirm the code") + hint, "error");
          input.select();
          return;
        }
        showRecoveryCodes(answer.body.recovery_codes ?? []);
      }),
      h("button", { type: "button", class: "text-button", onclick: refreshTotp }, "Cancel"),
    );
  }

  function showRecoveryCodes(codes) {
    setStatus(status, "The second factor is on.");
    totpBox.replaceChildren(
      h("p", {}, h("strong", {}, "Save these recovery codes now: they are shown only this once."),
        " Each one signs you in once if you lose the authenticator app."),
      h("ol", { class: "recovery-codes", id: "recovery-codes" }, ...codes.map((c) => h("li", {}, h("code", {}, c)))),
      h("button", { type: "button", class: "primary", id: "recovery-saved", onclick: refreshTotp }, "I have saved them"),
    );
  }

  // --- sign out everywhere ---------------------------------------------------------------------------------------

  const everywhere = $("#logout-everywhere");
  everywhere.addEventListener("click", async () => {
    if (everywhere.dataset.armed !== "true") {
      everywhere.dataset.armed = "true";
      everywhere.textContent = "Yes, sign out every browser";
      setStatus(status, "Every browser, this one included, will need a new sign-in link. Click again to confirm.");
      return;
    }
    const result = await api("POST", "/auth/logout-everywhere");
    if (!result.ok) {
      fail(result, "sign out everywhere");
      return;
    }
    location.assign("/");
  });

  $("#pair-machine").addEventListener("click", newPairingCode);
  $("#security-close").addEventListener("click", () => dialog.close());

  return {
    async open() {
      setStatus(status, "");
      pairResult.hidden = true;
      pairResult.replaceChildren();
      everywhere.dataset.armed = "false";
      everywhere.textContent = "Sign out everywhere";
      if (!dialog.open) dialog.showModal();
      await Promise.all([refreshDevices(), refreshTotp(), passkeys.refresh(), accounts.refresh(), sharing.refresh(),
        people.refresh()]);
    },
  };
}
