"""TOTP second factor (pyotp) and one-time recovery codes.

Seeds are encrypted with AES-GCM under a key derived (HKDF-SHA256) from the server's secret key, so a database dump
alone does not give the seeds; the seed leaves the server only once, as the otpauth URI at enrolment. Recovery codes
are random (50 bits each), stored as SHA-256 hashes, and each works once.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from datetime import UTC, datetime

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from tortoise.transactions import in_transaction

from imcodes_server.models import RecoveryCode, TotpCredential, User

ISSUER = "imcodes"
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed from paper
_NONCE_BYTES = 12


def _now() -> datetime:
    return datetime.now(UTC)


def _seed_key(server_secret: str) -> bytes:
    if not server_secret:
        raise ValueError("the server secret key is empty; TOTP seeds cannot be encrypted")
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"imcodes totp seed v1")
    return kdf.derive(server_secret.encode("utf-8"))


def encrypt_seed(seed: str, server_secret: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_seed_key(server_secret)).encrypt(nonce, seed.encode("ascii"), b"totp")
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def decrypt_seed(blob: str, server_secret: str) -> str:
    raw = base64.urlsafe_b64decode(blob.encode("ascii"))
    plain = AESGCM(_seed_key(server_secret)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], b"totp")
    return plain.decode("ascii")


def hash_recovery_code(code: str) -> str:
    normalised = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(f"imcodes-recovery:{normalised}".encode()).hexdigest()


def looks_like_totp(code: str) -> bool:
    stripped = code.strip().replace(" ", "")
    return len(stripped) == 6 and stripped.isdigit()


def _new_recovery_code() -> str:
    chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


async def is_enrolled(user_id: int) -> bool:
    return await TotpCredential.filter(user_id=user_id, confirmed_at__isnull=False).exists()


async def start_enrolment(user: User, server_secret: str) -> str:
    """A fresh unconfirmed seed (replacing any unconfirmed one); returns the otpauth URI, shown to the user once."""
    seed = pyotp.random_base32()
    await TotpCredential.filter(user_id=user.id, confirmed_at__isnull=True).delete()
    await TotpCredential.create(user=user, secret_encrypted=encrypt_seed(seed, server_secret))
    return pyotp.TOTP(seed).provisioning_uri(name=user.name, issuer_name=ISSUER)


def _matching_step(seed: str, code: str, at: datetime) -> int | None:
    """The time step whose code equals `code`, allowing one step of clock drift either way."""
    totp = pyotp.TOTP(seed)
    cleaned = code.strip().replace(" ", "")
    for drift in (0, -1, 1):
        step = totp.timecode(at) + drift
        if secrets.compare_digest(totp.generate_otp(step), cleaned):
            return step
    return None


async def check_code(user_id: int, code: str, server_secret: str, *, confirmed: bool = True) -> bool:
    """True when `code` is the current TOTP of the user's (confirmed, or pending when confirmed=False) seed.

    A step is accepted at most once, so a code seen over someone's shoulder cannot be replayed.
    """
    async with in_transaction():
        credential = (
            await TotpCredential.filter(user_id=user_id, confirmed_at__isnull=not confirmed)
            .select_for_update()
            .first()
        )
        if credential is None:
            return False
        step = _matching_step(decrypt_seed(credential.secret_encrypted, server_secret), code, _now())
        if step is None or (credential.last_used_step is not None and step <= credential.last_used_step):
            return False
        credential.last_used_step = step
        fields = ["last_used_step"]
        if not confirmed:
            credential.confirmed_at = _now()
            fields.append("confirmed_at")
        await credential.save(update_fields=fields)
        return True


async def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with 10 fresh ones; the plain codes are returned once and never stored."""
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    async with in_transaction():
        await RecoveryCode.filter(user_id=user.id).delete()
        for code in codes:
            await RecoveryCode.create(user=user, code_hash=hash_recovery_code(code))
    return codes


async def use_recovery_code(user_id: int, code: str) -> bool:
    """Spend one unused recovery code of the user; the conditional UPDATE makes a double spend impossible."""
    spent = await RecoveryCode.filter(
        user_id=user_id, code_hash=hash_recovery_code(code), used_at__isnull=True
    ).update(used_at=_now())
    return bool(spent)


async def recovery_codes_left(user_id: int) -> int:
    return await RecoveryCode.filter(user_id=user_id, used_at__isnull=True).count()


async def disable(user_id: int) -> None:
    async with in_transaction():
        await TotpCredential.filter(user_id=user_id).delete()
        await RecoveryCode.filter(user_id=user_id).delete()
