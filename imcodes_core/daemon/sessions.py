"""The session registry's persistent side: ``@imcodes`` on each tmux session and ``<home>/sessions.json``.

The tmux option is the source of truth for adoption (it survives the daemon); sessions.json is a convenience copy
for tools and for noticing sessions that ended while the daemon was away. It is written atomically (temporary file
+ ``os.replace``) and debounced: many changes in a burst cost one write, and an idle daemon writes nothing.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from imcodes_core.protocol.frames import ConversationId

log = logging.getLogger(__name__)

# tmux turns "." and ":" in session names into "_": keep names that survive unchanged (and fit protocol Name)
SESSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_@-]{0,63}$")
WRITE_DELAY = 0.5


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """Restart a session whose process ended: at most ``max_restarts`` within ``window`` seconds, then give up."""

    max_restarts: int = 0
    window: float = 300.0

    @property
    def enabled(self) -> bool:
        return self.max_restarts > 0


@dataclass(slots=True)
class SessionRecord:
    """What the daemon remembers about one session (stored in the ``@imcodes`` tmux option as JSON)."""

    name: str
    driver: str
    label: str = ""
    cwd: str = ""
    epoch: int = 1
    created_at: float = field(default_factory=time.time)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    conversation: str = ""  # the agent's own conversation id, as its machine channel last reported it
    channel: dict[str, str] = field(default_factory=dict)  # LaunchPlan.channel: how to reach its machine channels

    def to_option(self) -> str:
        data = asdict(self)
        data.pop("name")
        return json.dumps(data, separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_option(cls, name: str, raw: str) -> SessionRecord | None:
        try:
            data = json.loads(raw)
            restart = data.get("restart") or {}
            return cls(
                name=name,
                driver=str(data["driver"]),
                label=str(data.get("label", ""))[:128],
                cwd=str(data.get("cwd", "")),
                epoch=max(1, int(data.get("epoch", 1))),
                created_at=float(data.get("created_at", 0.0)),
                restart=RestartPolicy(int(restart.get("max_restarts", 0)), float(restart.get("window", 300.0))),
                conversation=conversation_id(data.get("conversation")),
                channel=_channel(data.get("channel")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def _channel(value: object) -> dict[str, str]:
    """A stored LaunchPlan.channel: short string keys and values only (it went through a tmux option)."""
    if not isinstance(value, dict):
        return {}
    return {str(k)[:64]: str(v)[:1024] for k, v in list(value.items())[:16] if isinstance(v, str | int)}


@functools.cache
def _conversation_adapter() -> TypeAdapter[str]:
    return TypeAdapter(ConversationId)


def conversation_id(value: object) -> str:
    """``value`` when it is a usable agent conversation id (the protocol's rules: it becomes a CLI argument)."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        return _conversation_adapter().validate_python(value)
    except ValidationError:
        return ""


def new_session_name(driver: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]", "-", driver)[:40] or "session"
    while True:
        name = f"{base}-{secrets.token_hex(2)}"
        if name not in taken:
            return name


class SessionStore:
    """Debounced atomic writer of ``sessions.json``. ``snapshot()`` supplies the current records."""

    def __init__(self, path: Path, snapshot: Callable[[], list[SessionRecord]]) -> None:
        self.path = path
        self._snapshot = snapshot
        self._handle: asyncio.TimerHandle | None = None

    def load(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return []
        sessions = data.get("sessions") if isinstance(data, dict) else None
        return [s for s in sessions if isinstance(s, dict)] if isinstance(sessions, list) else []

    def changed(self) -> None:
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(WRITE_DELAY, self.flush)

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        write_records(self.path, self._snapshot())


def write_records(path: Path, records: Iterable[SessionRecord]) -> None:
    """``{"version": 1, "written_at", "sessions": [...]}`` written atomically (temporary file + ``os.replace``):
    a reader never sees half a file. A failure is logged, not raised: the tmux options stay the source of truth."""
    sessions = [{"name": r.name, **json.loads(r.to_option())} for r in records]
    body = json.dumps({"version": 1, "written_at": time.time(), "sessions": sessions}, indent=1)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(body, "utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("%s not written: %s", path.name, exc)
