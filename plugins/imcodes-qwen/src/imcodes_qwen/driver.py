"""The Qwen Code drivers: ``qwen`` in a tmux pane, and ``qwen --acp`` driven headless through ACP (a transport)."""

from __future__ import annotations

from imcodes_core.drivers import Capability, DriverKind, InputDelivery, LaunchPlan, LaunchRequest, ProcessDriver

TESTED_VERSIONS = ("0.24.4",)
# No RESUME: the fixtures do not record how Qwen Code resumes a session.
CAPABILITIES = frozenset({Capability.APPROVE})
# Over ACP the daemon also interrupts (session/cancel) and records the chat events itself.
ACP_CAPABILITIES = frozenset({Capability.APPROVE, Capability.INTERRUPT, Capability.CHAT_EVENTS})


class QwenDriver(ProcessDriver):
    """``qwen`` in a pane, with ``--approval-mode default`` so tool calls ask first (Qwen's default approves on
    its own). With ``base_url`` set, the session talks to an OpenAI-compatible endpoint: ``--auth-type openai``
    plus ``OPENAI_BASE_URL`` (and ``OPENAI_MODEL`` when ``model`` is set); ``OPENAI_API_KEY`` comes in
    ``request.env``, never from the driver.
    """

    name = "qwen"
    input_delivery = InputDelivery.SEND_KEYS
    tested_versions = TESTED_VERSIONS

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
        if request.resume_id:
            raise ValueError("the qwen driver cannot resume a conversation yet (no recorded way to do it)")
        argv = [self.executable or "qwen"]
        if self.auth_type:
            argv += ["--auth-type", self.auth_type]
        if self.approval_mode:
            argv += ["--approval-mode", self.approval_mode]
        return argv

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, "IMCODES_SESSION": request.session}
        if self.base_url:
            env["OPENAI_BASE_URL"] = self.base_url
        if self.model:
            env["OPENAI_MODEL"] = self.model
        return LaunchPlan([*self.base_argv(request), *request.extra_args], env, request.cwd)


class QwenAcpDriver(QwenDriver):
    """``qwen --acp``: no TUI, the daemon speaks ACP on its stdio (imcodes_core/daemon/transport.py). Same
    approval mode, endpoint and auth handling as the pane driver; Qwen's permission questions go to the phone."""

    name = "qwen-acp"
    kind = DriverKind.TRANSPORT
    input_delivery = InputDelivery.TRANSPORT

    def base_argv(self, request: LaunchRequest) -> list[str]:
        executable, *options = super().base_argv(request)
        return [executable, "--acp", *options]
