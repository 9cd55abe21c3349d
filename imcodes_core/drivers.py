"""Agent drivers: how an agent is launched, how input reaches it, and what it can do."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable


class DriverKind(StrEnum):
    PROCESS = "process"  # a CLI in a tmux pane
    TRANSPORT = "transport"  # driven through a machine interface (stream-json, ACP, WebSocket gateway)


class InputDelivery(StrEnum):
    SEND_KEYS = "send_keys"  # tmux send-keys -l TEXT, then Enter
    PASTE_BUFFER = "paste_buffer"  # tmux load-buffer + paste-buffer (bracketed paste), then Enter
    TRANSPORT = "transport"  # the transport delivers the prompt itself


class Capability(StrEnum):
    RESUME = "resume"
    INTERRUPT = "interrupt"
    APPROVE = "approve"
    CHAT_EVENTS = "chat_events"
    HOOKS = "hooks"


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """What the daemon asks a driver to launch."""

    session: str  # the imcodes session name, exported to the agent as IMCODES_SESSION
    cwd: Path
    resume_id: str | None = None  # an earlier conversation to resume, when the driver can
    extra_args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """What the daemon runs in the pane (or hands to a transport)."""

    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@runtime_checkable
class AgentDriver(Protocol):
    """Launches one kind of agent. Stateless: the daemon owns the sessions."""

    name: str
    kind: DriverKind
    input_delivery: InputDelivery
    executable: str | None  # the command looked up on PATH by ``imcodes doctor``; None for built-ins

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan: ...

    def installed_version(self) -> str | None:
        """The installed CLI's version, or None when it is not installed. Called by ``imcodes doctor``."""
        ...


class ProcessDriver:
    """A convenient base for drivers of a CLI in a tmux pane."""

    name = "process"
    kind = DriverKind.PROCESS
    input_delivery = InputDelivery.SEND_KEYS
    executable: str | None = None
    version_args: Sequence[str] = ("--version",)
    tested_versions: Sequence[str] = ()

    def base_argv(self, request: LaunchRequest) -> list[str]:
        if self.executable is None:
            raise NotImplementedError(f"{type(self).__name__} must set executable or override base_argv")
        return [self.executable]

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, "IMCODES_SESSION": request.session}
        return LaunchPlan([*self.base_argv(request), *request.extra_args], env, request.cwd)

    def installed_version(self) -> str | None:
        if self.executable is None:
            return None
        path = shutil.which(self.executable)
        if path is None:
            return None
        try:
            out = subprocess.run(
                [path, *self.version_args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0] if text else "unknown"
