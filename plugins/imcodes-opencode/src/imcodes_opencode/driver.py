"""The OpenCode driver: how imcodes launches the ``opencode`` TUI in a tmux pane."""

from __future__ import annotations

from imcodes_core.drivers import Capability, InputDelivery, LaunchPlan, LaunchRequest, ProcessDriver

TESTED_VERSIONS = ("1.18.33",)
# No RESUME: the fixtures do not record how OpenCode resumes a session; that comes with issue 5.
CAPABILITIES = frozenset({Capability.INTERRUPT, Capability.APPROVE})


class OpenCodeDriver(ProcessDriver):
    """``opencode`` in a pane. ``port`` makes the TUI serve its HTTP API with the ``GET /event`` SSE stream
    (``--port N``), the machine channel the event detector reads. ``disable_models_fetch`` sets
    ``OPENCODE_DISABLE_MODELS_FETCH=1`` for machines without network (the provider then comes from
    ``opencode.json``, see :func:`imcodes_opencode.config.offline_config`).
    """

    name = "opencode"
    input_delivery = InputDelivery.SEND_KEYS
    tested_versions = TESTED_VERSIONS
    interrupt_keys = ("Escape",)  # the working footer says "esc interrupt"

    def __init__(self, executable: str = "opencode", port: int | None = None, disable_models_fetch: bool = False):
        self.executable = executable
        self.port = port
        self.disable_models_fetch = disable_models_fetch

    def base_argv(self, request: LaunchRequest) -> list[str]:
        if request.resume_id:
            raise ValueError("the opencode driver cannot resume a conversation yet (no recorded way to do it)")
        argv = [self.executable or "opencode"]
        if self.port is not None and "--port" not in request.extra_args:  # a caller's own --port wins
            argv += ["--port", str(self.port)]
        return argv

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, "IMCODES_SESSION": request.session}
        if self.disable_models_fetch:
            env["OPENCODE_DISABLE_MODELS_FETCH"] = "1"
        return LaunchPlan([*self.base_argv(request), *request.extra_args], env, request.cwd)
