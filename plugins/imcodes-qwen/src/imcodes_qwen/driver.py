"""The Qwen Code drivers: ``qwen`` in a tmux pane, and ``qwen --acp`` driven headless through ACP (a transport)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from imcodes_core.channels import ChannelRequest, SessionChannel
from imcodes_core.drivers import Capability, DriverKind, InputDelivery, LaunchPlan, LaunchRequest, ProcessDriver
from imcodes_qwen.channel import QwenJsonFileChannel

TESTED_VERSIONS = ("0.24.4",)
# RESUME: ``qwen --resume <session id>`` reopens a recorded conversation (0.24.4's exit screen says so too); the
# id comes from the json-file channel. CHAT_EVENTS: that channel reports prompts, answers, tool calls.
CAPABILITIES = frozenset({Capability.APPROVE, Capability.RESUME, Capability.INTERRUPT, Capability.CHAT_EVENTS})
EVENTS_FILE = "events.jsonl"
# Over ACP the daemon also interrupts (session/cancel) and records the chat events itself.
ACP_CAPABILITIES = frozenset({Capability.RESUME, Capability.APPROVE, Capability.INTERRUPT, Capability.CHAT_EVENTS})


class QwenDriver(ProcessDriver):
    """``qwen`` in a pane, with ``--approval-mode default`` so tool calls ask first (Qwen's default approves on
    its own). With ``base_url`` set, the session talks to an OpenAI-compatible endpoint: ``--auth-type openai``
    plus ``OPENAI_BASE_URL`` (and ``OPENAI_MODEL`` when ``model`` is set); ``OPENAI_API_KEY`` comes in
    ``request.env``, never from the driver.
    """

    name = "qwen"
    input_delivery = InputDelivery.SEND_KEYS
    tested_versions = TESTED_VERSIONS
    # 0.24.4: C-c cancels the turn ("Request cancelled.") and leaves the input line empty; Escape ("esc to cancel")
    # cancels too but puts the prompt back on the input line, where the next prompt would be appended to it. A
    # second C-c within ~1 s exits Qwen ("Press Ctrl+C again to exit."): one interrupt is one press.
    interrupt_keys = ("C-c",)

    def __init__(
        self,
        executable: str = "qwen",
        approval_mode: str | None = "default",
        base_url: str = "",
        model: str = "",
        auth_type: str = "",
    ) -> None:
        self.executable = executable
        self.approval_mode = approval_mode
        self.base_url = base_url
        self.model = model
        # --auth-type (openai, openai-responses, anthropic, qwen-oauth, gemini, vertex-ai in 0.24.4's --help):
        # set on its own for a key in the user's environment; "openai" by itself when base_url is set.
        self.auth_type = auth_type or ("openai" if base_url else "")

    def base_argv(self, request: LaunchRequest) -> list[str]:
        argv = [self.executable or "qwen"]
        if self.auth_type:
            argv += ["--auth-type", self.auth_type]
        if self.approval_mode:
            argv += ["--approval-mode", self.approval_mode]
        if request.resume_id:
            argv += ["--resume", request.resume_id]  # the protocol's id rules keep it from passing for a flag
        return argv

    def env(self, request: LaunchRequest) -> dict[str, str]:
        env = {**request.env, "IMCODES_SESSION": request.session}
        if self.base_url:
            env["OPENAI_BASE_URL"] = self.base_url
        if self.model:
            env["OPENAI_MODEL"] = self.model
        return env

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        """With ``request.state_dir``, Qwen also writes its event stream there (``--json-file``), which the
        daemon follows through :meth:`session_channels`; the path is stored with the session as ``events``."""
        argv, channel = self.base_argv(request), dict[str, str]()
        if request.state_dir is not None:
            events = request.state_dir / EVENTS_FILE
            # Qwen opens an existing file without truncating it and writes from its start, leaving the end of a
            # longer earlier stream behind: the earlier run of this session's name must not leave one.
            with contextlib.suppress(FileNotFoundError):
                events.unlink()
            argv += ["--json-file", str(events)]
            channel["events"] = str(events)
        return LaunchPlan([*argv, *request.extra_args], self.env(request), request.cwd, channel=channel)

    def session_channels(self, request: ChannelRequest) -> Sequence[SessionChannel]:
        """The ``--json-file`` stream of this session's launch (none for a session launched without one)."""
        events = request.launch.get("events")
        return [QwenJsonFileChannel(Path(events))] if events else []


class QwenAcpDriver(QwenDriver):
    """``qwen --acp``: no TUI, the daemon speaks ACP on its stdio (imcodes_core/daemon/transport.py). Same
    approval mode, endpoint and auth handling as the pane driver; Qwen's permission questions go to the phone."""

    name = "qwen-acp"
    kind = DriverKind.TRANSPORT
    input_delivery = InputDelivery.TRANSPORT

    def base_argv(self, request: LaunchRequest) -> list[str]:
        if request.resume_id:  # ACP reopens a conversation with session/load (the transport's part), not a flag
            raise ValueError("the qwen-acp driver resumes through ACP's session/load, not a command line")
        executable, *options = super().base_argv(request)
        return [executable, "--acp", *options]

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        return LaunchPlan([*self.base_argv(request), *request.extra_args], self.env(request), request.cwd)

    def session_channels(self, request: ChannelRequest) -> Sequence[SessionChannel]:
        return []  # ACP is the channel: the transport reads it
