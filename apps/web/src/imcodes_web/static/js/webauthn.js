// The browser side of a passkey ceremony: the server's JSON options (py_webauthn's options_to_json) become the
// ArrayBuffer-shaped options navigator.credentials wants, and the credential goes back as JSON the server parses.
// Done by hand rather than with PublicKeyCredential.parse*OptionsFromJSON so older browsers work too.

import { base64urlToBytes, bytesToBase64url } from "./base64url.js";

export const passkeysSupported = () =>
  typeof window !== "undefined" && typeof window.PublicKeyCredential === "function" && !!navigator.credentials;

const descriptors = (list) => (list || []).map((item) => ({ ...item, id: base64urlToBytes(item.id) }));

/** publicKey options for navigator.credentials.create() from the server's registration options. */
export function creationOptions(json) {
  return {
    ...json,
    challenge: base64urlToBytes(json.challenge),
    user: { ...json.user, id: base64urlToBytes(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

/** publicKey options for navigator.credentials.get() from the server's authentication options. */
export function requestOptions(json) {
  return { ...json, challenge: base64urlToBytes(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

const maybe = (buffer) => (buffer ? bytesToBase64url(buffer) : undefined);

/** A PublicKeyCredential (from create() or get()) as the JSON object the server verifies. */
export function credentialToJSON(credential) {
  const response = credential.response;
  const json = {
    id: credential.id,
    rawId: bytesToBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults?.() ?? {},
    response: { clientDataJSON: bytesToBase64url(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    json.response.attestationObject = bytesToBase64url(response.attestationObject);
    json.response.transports = response.getTransports?.() ?? [];
  } else {
    json.response.authenticatorData = bytesToBase64url(response.authenticatorData);
    json.response.signature = bytesToBase64url(response.signature);
    json.response.userHandle = maybe(response.userHandle);
  }
  return json;
}

/** A rejected navigator.credentials call as a sentence a person can act on. */
export function explainWebAuthnError(error, action) {
  if (error?.name === "NotAllowedError") return `${action} was cancelled or timed out. Try again when you are ready.`;
  if (error?.name === "InvalidStateError") return "This device already holds a passkey for this account.";
  if (error?.name === "SecurityError") return "Passkeys need this page to be opened by a host name (such as localhost) over a secure connection.";
  if (error?.name === "NotSupportedError") return "This browser or device cannot make a passkey.";
  return `${action} failed: ${error?.message || error}`;
}
