"""Sliding-window limits on credential checks, kept in PostgreSQL (table `auth_failures`).

A bucket names who is being limited for which method: `totp:ip:203.0.113.5`, `totp:user:7`, `link:ip:...`.
Each failed check leaves one row per bucket; a bucket with `MAX_FAILURES` rows younger than `WINDOW` is locked
until the oldest of those ages out, so the 6th wrong attempt inside the window is refused.

Rows live in the database, not in process memory, so restarting the server (or running several workers) does not
reset an attacker's count. Buckets are per method and per IP or account: locking one IP or one method never locks
the owner out of the others (docs/security.md explains the whole design).

`reserve()` writes the attempt's row *before* the credential is checked and counts it: parallel guesses therefore
see each other, and at most `MAX_FAILURES` checks can ever be in flight or failed per bucket and window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from imcodes_server.models import AuthFailure

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)

# Methods (the first part of a bucket name).
LINK = "link"
TOTP = "totp"
RECOVERY = "recovery"
PAIRING = "pairing"
INVITE = "invite"


class LockedOutError(Exception):
    """Too many failures in the window; `retry_after` whole seconds until the next attempt is allowed."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"locked for {retry_after} s")
        self.retry_after = retry_after


def _now() -> datetime:
    return datetime.now(UTC)


def buckets(method: str, ip: str | None, user_id: int | None = None) -> list[str]:
    """The buckets one attempt counts against: always its IP, and its account when the account is known."""
    names = [f"{method}:ip:{ip or 'unknown'}"[:200]]
    if user_id is not None:
        names.append(f"{method}:user:{user_id}")
    return names


async def _locked_for(bucket: str, *, already_counted: int) -> int | None:
    """Seconds until `bucket` unlocks, or None. `already_counted` rows of the newest belong to the current attempt."""
    since = _now() - WINDOW
    oldest_that_counts = (
        await AuthFailure.filter(bucket=bucket, created_at__gt=since)
        .order_by("-created_at", "-id")
        .offset(MAX_FAILURES - 1 + already_counted)
        .first()
    )
    if oldest_that_counts is None:
        return None
    remaining = (oldest_that_counts.created_at + WINDOW - _now()).total_seconds()
    return max(1, math.ceil(remaining))


async def retry_after(names: Sequence[str]) -> int | None:
    """Seconds until every bucket in `names` accepts an attempt again, or None when none is locked (no write)."""
    waits = [wait for name in names if (wait := await _locked_for(name, already_counted=0)) is not None]
    return max(waits) if waits else None


async def reserve(names: Sequence[str]) -> list[int]:
    """Count one attempt as a failure in every bucket now; raise LockedOutError (taking it back) when over the limit.

    Call `succeeded(ids)` when the credential turns out valid; a failed check needs nothing more.
    """
    await AuthFailure.filter(created_at__lt=_now() - WINDOW).delete()  # keep the table small
    rows = [await AuthFailure.create(bucket=name) for name in names]
    waits = [wait for name in names if (wait := await _locked_for(name, already_counted=1)) is not None]
    if waits:
        # A refused attempt was never checked, so it does not extend the lock.
        await AuthFailure.filter(id__in=[row.id for row in rows]).delete()
        raise LockedOutError(max(waits))
    return [row.id for row in rows]


async def succeeded(ids: Sequence[int], names: Sequence[str]) -> None:
    """The checked credential was valid: forget this attempt and the buckets' earlier failures (the owner's typos)."""
    if ids:
        await AuthFailure.filter(id__in=list(ids)).delete()
    if names:
        await AuthFailure.filter(bucket__in=list(names)).delete()


async def record_failure(names: Sequence[str]) -> int | None:
    """A failed check that was not reserved beforehand; returns the lock's seconds when this failure is refused."""
    try:
        await reserve(names)
    except LockedOutError as locked:
        return locked.retry_after
    return None
