"""The OpenCode driver: how imcodes launches the ``opencode`` TUI in a tmux pane, and follows its event stream."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import Sequence
from pathlib import Path

from imcodes_core.channels import ChannelRequest, SessionChannel
from imcodes_core.drivers import Capability, InputDelivery, LaunchPlan, LaunchRequest, ProcessDriver
from imcodes_opencode.channel import HOST, OpenCodeEventChannel

TESTED_VERSIONS = ("1.18.33",)
CAPABILITIES = frozenset({Capability.RESUME, Capability.INTERRUPT, Capability.APPROVE, Capability.CHAT_EVENTS})
PASSWORD_FILE = "opencode-password"  # noqa: S105 - a file name in the session folder, not a password
USERNAME = "opencode"
# sh reads the password into OpenCode's environment and execs it (the pane's process is OpenCode itself)
WITH_PASSWORD = 'secret=$1; shift; OPENCODE_SERVER_PASSWORD=$(cat "$secret") exec "$@"'  # noqa: S105 - a shell line, no password
PORT_FILE = "opencode-port"  # in the session's state folder: the port its launches use


def free_port(host: str = HOST) -> int:
    """A port nothing listens on now (the kernel's pick for port 0). OpenCode binds it a moment later: another
    program could take it in between, which the channel survives (it answers no event stream, or none at all)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _flag_value(args: Sequence[str], flag: str) -> str | None:
    """The value of ``flag`` in ``args`` (``--port N`` or ``--port=N``), else None."""
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(f"{flag}="):
            return arg.partition("=")[2]
    return None


class OpenCodeDriver(ProcessDriver):
    """``opencode`` in a pane, serving its HTTP API with the ``GET /event`` SSE stream (``--port N``): the
    machine channel the daemon follows (``session_channels``). The port is ``port`` when configured, a caller's
    own ``--port`` when given, else a free loopback port picked for the session (kept in its state folder, so the
    session's plan stays the same when asked again). ``disable_models_fetch`` sets
    ``OPENCODE_DISABLE_MODELS_FETCH=1`` for machines without network (the provider then comes from
    ``opencode.json``, see :func:`imcodes_opencode.config.offline_config`).
    """

    name = "opencode"
    input_delivery = InputDelivery.SEND_KEYS
    tested_versions = TESTED_VERSIONS
    # 1.18.33: the first Escape only arms it ("esc again to interrupt"), the second stops the turn ("· interrupted").
    # The two presses must come apart (50 ms was enough): sent in one burst they read as Alt+Escape and do nothing.
    # C-c exits OpenCode.
    interrupt_keys = ("Escape", "Escape")

    def __init__(self, executable: str = "opencode", port: int | None = None, disable_models_fetch: bool = False):
        self.executable = executable
        self.port = port
        self.disable_models_fetch = disable_models_fetch

    def session_port(self, request: LaunchRequest) -> int | None:
        """The port this launch serves its API on; None when nobody could follow it (no state folder: not a
        daemon launch) and none is configured."""
        given = _flag_value(request.extra_args, "--port")
        if given is not None:
            return int(given) if given.isdigit() else None
        if self.port is not None:
            return self.port
        if request.state_dir is None:
            return None
        remembered = Path(request.state_dir) / PORT_FILE
        try:
            port = int(remembered.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            port = 0
        if not (0 < port < 65536 and port_is_free(port)):
            port = free_port()
            remembered.write_text(f"{port}\n", encoding="ascii")
        return port

    def base_argv(self, request: LaunchRequest, port: int | None = None) -> list[str]:
        argv = [self.executable or "opencode"]
        if port is not None and _flag_value(request.extra_args, "--port") is None:  # a caller's own --port wins
            argv += ["--port", str(port)]
        if request.resume_id:  # the exit summary says: "Continue  opencode -s <session id>"
            argv += ["--session", request.resume_id]
        return argv

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, "IMCODES_SESSION": request.session}
        if self.disable_models_fetch:
            env["OPENCODE_DISABLE_MODELS_FETCH"] = "1"
        port = self.session_port(request)
        channel = {"port": str(port)} if port is not None else {}
        argv = [*self.base_argv(request, port), *request.extra_args]
        if port is not None and request.state_dir is not None:
            # The API drives the agent (prompts, approvals): only this user may use it. OpenCode asks for basic
            # auth when OPENCODE_SERVER_PASSWORD is set; the password goes through a 0600 file, never a command
            # line (tmux's own arguments are visible to every user for a moment) nor the stored session record.
            secret = write_password(request.state_dir / PASSWORD_FILE)
            env["OPENCODE_SERVER_USERNAME"] = USERNAME
            argv = ["sh", "-c", WITH_PASSWORD, "opencode-launch", str(secret), *argv]  # exec: the pane's pid stays
            channel["password_file"] = str(secret)
        return LaunchPlan(argv, env, request.cwd, channel=channel)

    def session_channels(self, request: ChannelRequest) -> Sequence[SessionChannel]:
        port = request.launch.get("port", "")
        if not port.isdigit():
            return []  # launched without a port (an older session): the screen alone
        secret = request.launch.get("password_file")
        credentials = (USERNAME, Path(secret)) if secret else None
        return [OpenCodeEventChannel(int(port), pane_pid=request.pane_pid, credentials=credentials)]


def write_password(path: Path) -> Path:
    """A fresh random password in ``path``, readable by this user only (created 0600, never wider)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_urlsafe(24))
    return path
