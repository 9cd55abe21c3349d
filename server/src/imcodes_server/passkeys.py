"""Passkeys with py_webauthn: registration for a signed-in user, usernameless sign-in, listing and removal.

- The relying party id is the host of the server's own origin (`config.origin`), and the client data's origin must
  equal that origin exactly. Browsers refuse an IP address as an rp id, so passkeys need the server to be opened by
  a host name (`http://localhost:8787` counts as a secure context; set `IMCODES_PUBLIC_ORIGIN` to it).
- Every challenge is stored server-side (as a hash), bound to its purpose (and, for registration, to the user),
  valid `CHALLENGE_TTL`, and deleted when a response names it: a response, or a replay of it, verifies at most once.
- User verification is required, the sign counter must grow (py_webauthn checks it; the row is locked meanwhile so
  two uses of one credential cannot both pass with the same count).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from tortoise.transactions import in_transaction
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from imcodes_server.config import ServerConfig
from imcodes_server.models import User
from imcodes_server.models_passkeys import Passkey, PasskeyChallenge

CHALLENGE_TTL = timedelta(minutes=3)
CEREMONY_TIMEOUT_MS = 120_000
REGISTER = "register"
SIGN_IN = "sign_in"
# The lockout method for failed passkey sign-ins (ratelimit buckets `passkey:ip:...`).
LOCKOUT_METHOD = "passkey"
RP_NAME = "imcodes"


class PasskeyError(Exception):
    """A refused ceremony: `code` for programs, `message` for people."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class RelyingParty:
    rp_id: str
    origin: str


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def relying_party(config: ServerConfig) -> RelyingParty:
    """The rp id (the origin's host) and the exact origin; PasskeyError when browsers would refuse that host."""
    host = urlsplit(config.origin).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host:
            return RelyingParty(rp_id=host, origin=config.origin)
    raise PasskeyError(
        "passkeys_unavailable",
        f"Passkeys need the server to be opened by a host name, not {host or 'this address'}: "
        "open it as http://localhost:PORT (set IMCODES_PUBLIC_ORIGIN) or behind a domain.",
        status=409,
    )


def user_handle(user: User, secret_key: str) -> bytes:
    """The WebAuthn user.id: stable per account, reveals nothing (not the numeric id, not the name)."""
    return hmac.new(secret_key.encode("utf-8"), f"imcodes-passkey-user:{user.id}".encode(), "sha256").digest()


async def _issue_challenge(options: Any, purpose: str, user: User | None) -> str:
    await PasskeyChallenge.filter(expires_at__lt=_now()).delete()  # keep the table small
    await PasskeyChallenge.create(
        challenge_hash=_hash(bytes_to_base64url(options.challenge)),
        purpose=purpose,
        user=user,
        expires_at=_now() + CHALLENGE_TTL,
    )
    return str(options_to_json(options))


async def _take_challenge(client_data_json: bytes, purpose: str, user: User | None) -> bytes:
    """The challenge the response signed, if we issued it for this purpose (and user); it is spent either way."""
    try:
        challenge = parse_client_data_json(client_data_json).challenge
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyError("bad_response", "The browser's answer could not be read.") from error
    async with in_transaction():
        row = (
            await PasskeyChallenge.filter(challenge_hash=_hash(bytes_to_base64url(challenge)))
            .select_for_update()
            .first()
        )
        if row is not None:
            await row.delete()
    expired = "This passkey request expired or was already used. Try again."
    if row is None or row.expires_at <= _now() or row.purpose != purpose:
        raise PasskeyError("bad_challenge", expired)
    if user is not None and row.user_id != user.id:  # type: ignore[attr-defined]
        raise PasskeyError("bad_challenge", expired)
    return challenge


async def registration_options(user: User, config: ServerConfig) -> str:
    rp = relying_party(config)
    existing = await Passkey.filter(user_id=user.id).values_list("credential_id", flat=True)
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=RP_NAME,
        user_name=user.name,
        user_id=user_handle(user, config.secret_key),
        timeout=CEREMONY_TIMEOUT_MS,
        # Discoverable credentials: sign-in asks for no user name; verified users only (PIN, biometrics).
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(str(cid))) for cid in existing],
    )
    return await _issue_challenge(options, REGISTER, user)


def _clean_name(name: object) -> str:
    text = name if isinstance(name, str) else ""
    return "".join(ch for ch in text if ch.isprintable()).strip()[:120]


async def register(user: User, credential: object, name: object, config: ServerConfig) -> Passkey:
    rp = relying_party(config)
    try:
        parsed = parse_registration_credential_json(credential)  # type: ignore[arg-type]
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyError("bad_response", "The browser's answer could not be read.") from error
    challenge = await _take_challenge(parsed.response.client_data_json, REGISTER, user)
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyError("not_verified", f"The passkey could not be verified: {error}") from error
    credential_id = bytes_to_base64url(verified.credential_id)
    if await Passkey.filter(credential_id=credential_id).exists():
        raise PasskeyError("already_registered", "This passkey is already registered.", status=409)
    transports = [t.value for t in parsed.response.transports or [] if isinstance(t, AuthenticatorTransport)]
    count = await Passkey.filter(user_id=user.id).count()
    return await Passkey.create(
        user=user,
        credential_id=credential_id,
        public_key=bytes_to_base64url(verified.credential_public_key),
        user_handle=bytes_to_base64url(user_handle(user, config.secret_key)),
        sign_count=verified.sign_count,
        name=_clean_name(name) or f"Passkey {count + 1}",
        transports=",".join(transports)[:255],
    )


async def sign_in_options(config: ServerConfig) -> str:
    rp = relying_party(config)
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        timeout=CEREMONY_TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return await _issue_challenge(options, SIGN_IN, None)


async def sign_in(credential: object, config: ServerConfig) -> User:
    """The user whose passkey signed our challenge; PasskeyError otherwise (the caller counts it in the lockout)."""
    rp = relying_party(config)
    try:
        parsed = parse_authentication_credential_json(credential)  # type: ignore[arg-type]
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyError("bad_response", "The browser's answer could not be read.") from error
    challenge = await _take_challenge(parsed.response.client_data_json, SIGN_IN, None)
    unknown = PasskeyError(
        "unknown_passkey",
        "This passkey is not registered on this server (it may have been removed). "
        "Sign in with a link from imcodes login-link, then add a passkey again.",
        status=401,
    )
    async with in_transaction():
        passkey = (
            await Passkey.filter(credential_id=bytes_to_base64url(parsed.raw_id))
            .select_for_update()
            .first()
        )
        if passkey is None:
            raise unknown
        handle = parsed.response.user_handle
        if handle is not None and not hmac.compare_digest(bytes_to_base64url(handle), passkey.user_handle):
            raise unknown
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=rp.rp_id,
                expected_origin=rp.origin,
                credential_public_key=base64url_to_bytes(passkey.public_key),
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as error:
            raise PasskeyError("not_verified", "The passkey's answer could not be verified.", status=401) from error
        passkey.sign_count = verified.new_sign_count
        passkey.last_used_at = _now()
        await passkey.save(update_fields=["sign_count", "last_used_at"])
    return await User.get(id=passkey.user_id)  # type: ignore[attr-defined]


def to_dict(passkey: Passkey) -> dict[str, object]:
    """What the devices dialog shows: no key material, no credential id."""
    return {
        "id": passkey.id,
        "name": passkey.name,
        "created_at": passkey.created_at.isoformat() if passkey.created_at else None,
        "last_used_at": passkey.last_used_at.isoformat() if passkey.last_used_at else None,
    }


async def list_for(user: User) -> list[dict[str, object]]:
    return [to_dict(p) for p in await Passkey.filter(user_id=user.id).order_by("id")]


async def delete(user: User, passkey_id: int) -> bool:
    """Remove one of the user's passkeys; False when there is none with that id for this user."""
    return bool(await Passkey.filter(id=passkey_id, user_id=user.id).delete())


def parse_body(raw: Any) -> tuple[object, object]:
    """(credential, name) from a request body `{"credential": {...}, "name": "..."}`."""
    if not isinstance(raw, dict):
        raise PasskeyError("bad_request", "Send a JSON object with the credential.")
    credential = raw.get("credential")
    if isinstance(credential, str):
        try:
            credential = json.loads(credential)
        except ValueError as error:
            raise PasskeyError("bad_request", "The credential is not valid JSON.") from error
    if not isinstance(credential, dict):
        raise PasskeyError("bad_request", "Send a JSON object with the credential.")
    return credential, raw.get("name")
