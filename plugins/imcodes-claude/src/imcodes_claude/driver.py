"""The Claude Code driver: how imcodes launches ``claude`` in a tmux pane."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from imcodes_claude.hooks import settings_argument
from imcodes_claude.status import ClaudeStatusChannel
from imcodes_core.channels import ChannelRequest, SessionChannel
from imcodes_core.drivers import Capability, InputDelivery, LaunchPlan, LaunchRequest, ProcessDriver

# The versions whose screens and hook payloads the detectors were written against (shared/fixtures).
TESTED_VERSIONS = ("2.1.331",)
CAPABILITIES = frozenset({Capability.RESUME, Capability.INTERRUPT, Capability.APPROVE, Capability.HOOKS})

# Always exported: imcodes pins the CLI version its detectors know, and a session must not phone home on its own.
QUIET_ENV: Mapping[str, str] = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}


class ClaudeDriver(ProcessDriver):
    """``claude`` in a pane. ``permission_mode`` defaults to ``manual`` so tool calls raise the CLI's own
    permission prompt, which imcodes shows on the phone (Claude's default mode approves on its own).
    ``base_url`` points the CLI at another Anthropic-compatible endpoint (``ANTHROPIC_BASE_URL``), e.g. the
    fake model endpoint of the test kit; the API key is never the driver's business: it comes in ``request.env``.

    When the daemon launches the session (``IMCODES_HOME`` in ``request.env``: where the hook finds the daemon's
    event socket), imcodes' hooks come along as ``--settings <json>`` (see ``hooks``): the user's and project's
    settings files are never written.
    """

    name = "claude"
    input_delivery = InputDelivery.SEND_KEYS
    tested_versions = TESTED_VERSIONS
    # 2.1.331 ("esc to interrupt"): one Escape stops the turn (C-c twice exits). Stopped before any answer text came,
    # Claude puts the prompt back on its input line.
    interrupt_keys = ("Escape",)

    def __init__(
        self, executable: str = "claude", permission_mode: str | None = "manual", base_url: str = ""
    ) -> None:
        self.executable = executable
        self.permission_mode = permission_mode
        self.base_url = base_url

    def base_argv(self, request: LaunchRequest) -> list[str]:
        argv = [self.executable or "claude"]
        if self.permission_mode:
            argv += ["--permission-mode", self.permission_mode]
        if request.resume_id:  # the exit screen says: claude --permission-mode manual --resume <session id>
            argv += ["--resume", request.resume_id]
        if request.env.get("IMCODES_HOME"):
            argv += ["--settings", settings_argument()]
        return argv

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**QUIET_ENV, **request.env, "IMCODES_SESSION": request.session}
        if self.base_url:
            env["ANTHROPIC_BASE_URL"] = self.base_url
        return LaunchPlan([*self.base_argv(request), *request.extra_args], env, request.cwd)

    def session_channels(self, request: ChannelRequest) -> Sequence[SessionChannel]:
        """Claude's session status file (status.py), found by the pane's process: the launch runs ``claude``
        itself in the pane (no shell), so the pane's pid is Claude's and its file is ``sessions/<pid>.json``."""
        return [ClaudeStatusChannel(request.session, request.cwd, request.pane_pid)]
