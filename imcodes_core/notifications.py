"""Notifiers tell a person that a session finished, needs them, or failed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable


class NotificationKind(StrEnum):
    TURN_FINISHED = "turn_finished"
    NEEDS_INPUT = "needs_input"
    PERMISSION = "permission"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Notification:
    kind: NotificationKind
    session: str
    title: str
    body: str
    user: str | None = None
    url: str | None = None
    dedup_key: str | None = None


@runtime_checkable
class Notifier(Protocol):
    name: str

    async def notify(self, notification: Notification) -> None:
        """Deliver one notification. Raise to report failure; the core isolates and times out each call."""
        ...
