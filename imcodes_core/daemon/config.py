"""Daemon configuration: where it keeps its files, which tmux socket, the limits; and the pairing file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from imcodes_core.daemon.stream import DEFAULT_VIEWER_LIMIT
from imcodes_core.daemon.tmux import socket_name


def default_home() -> Path:
    return Path(os.environ.get("IMCODES_HOME") or Path.home() / ".imcodes")


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    home: Path
    tmux_socket: str
    viewer_limit: int = DEFAULT_VIEWER_LIMIT
    ping_interval: float = 15.0  # a ping only after this long without sending anything
    unpaired_retry: float = 30.0  # how often link.json is looked for while the machine is not paired
    token_refused_retry: float = 60.0
    backoff_min: float = 0.5
    backoff_max: float = 30.0

    @classmethod
    def create(cls, home: Path | None = None, **overrides: object) -> DaemonConfig:
        return cls(home=(home or default_home()).expanduser().resolve(), tmux_socket=socket_name(), **overrides)  # type: ignore[arg-type]

    @property
    def state_dir(self) -> Path:
        return self.home / "daemon"

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "daemon.lock"

    @property
    def events_socket(self) -> Path:
        """Where agents' hook commands send their events (``imcodes hook``)."""
        return self.state_dir / "events.sock"

    @property
    def timeline_dir(self) -> Path:
        return self.state_dir / "timeline"

    @property
    def sessions_path(self) -> Path:
        return self.home / "sessions.json"

    @property
    def link_path(self) -> Path:
        return self.home / "link.json"


@dataclass(frozen=True, slots=True)
class LinkSettings:
    server: str
    token: str
    machine: str

    @property
    def ws_url(self) -> str:
        base = self.server.rstrip("/")
        if base.startswith("https://"):
            base = "wss://" + base[len("https://") :]
        elif base.startswith("http://"):
            base = "ws://" + base[len("http://") :]
        return base + "/ws/daemon"


def read_link_file(path: Path) -> LinkSettings | None:
    """The pairing written by ``imcodes up`` / ``imcodes bind``; None when absent or unusable."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    server, token, machine = data.get("server"), data.get("token"), data.get("machine")
    if not all(isinstance(v, str) and v for v in (server, token, machine)):
        return None
    return LinkSettings(str(server), str(token), str(machine))
