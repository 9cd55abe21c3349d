// The server-rendered sign-in page: "Sign in with a passkey" (usernameless: the browser offers the passkeys it holds
// for this site). On success the server sets the session (or, with TOTP on, the pending second-factor step) and says
// where to go next.

import { credentialToJSON, explainWebAuthnError, passkeysSupported, requestOptions } from "./webauthn.js";

const button = document.getElementById("passkey-sign-in");
const status = document.getElementById("passkey-status");

function say(text, kind = "error") {
  status.textContent = text;
  status.dataset.kind = kind;
  status.hidden = !text;
}

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    // an error page: the status says enough
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

async function signIn() {
  button.disabled = true;
  say("Waiting for your passkey…", "info");
  try {
    const options = await postJSON("/auth/passkey/options");
    if (!options.ok) {
      say(options.body?.error?.message || `The server could not start a passkey sign-in (${options.status}).`);
      return;
    }
    let credential;
    try {
      credential = await navigator.credentials.get({ publicKey: requestOptions(options.body) });
    } catch (error) {
      say(explainWebAuthnError(error, "Signing in with a passkey"));
      return;
    }
    const result = await postJSON("/auth/passkey", { credential: credentialToJSON(credential) });
    if (!result.ok) {
      say(result.body?.error?.message || `Signing in failed (${result.status}).`);
      return;
    }
    say("Signed in.", "info");
    location.assign(result.body?.next || "/");
  } catch {
    say("The server is unreachable. Check your connection and try again.");
  } finally {
    button.disabled = false;
  }
}

if (button && passkeysSupported()) {
  button.hidden = false;
  button.addEventListener("click", signIn);
}
