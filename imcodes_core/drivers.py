"""Agent drivers: how an agent is launched, how input reaches it, and what it can do."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from imcodes_core.channels import ChannelRequest, SessionChannel


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
    # A private (0700) folder of this session's own, for files the agent writes for a machine channel (a JSON-lines
    # event file); None when the caller gives none (a test calling launch_plan directly).
    state_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """What the daemon runs in the pane (or hands to a transport).

    ``channel``: what the session's machine channels need to find the agent again (a port it serves events on);
    the daemon stores it with the session and gives it back in ``ChannelRequest.launch`` (imcodes_core/channels.py),
    also after a daemon restart.
    """

    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    channel: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class AgentDriver(Protocol):
    """Launches one kind of agent. Stateless: the daemon owns the sessions.

    Optional: ``session_channels(request: ChannelRequest) -> Sequence[SessionChannel]``, the machine channels the
    daemon follows while a session of this driver lives (``ProcessDriver`` has it, returning none).
    """

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

    def session_channels(self, request: ChannelRequest) -> Sequence[SessionChannel]:
        """The machine channels the daemon should follow for this session (none by default: hooks push their
        events, and the screen is always read). See imcodes_core/channels.py."""
        return ()

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
