"""The plain shell driver: a login shell in a tmux pane."""

from __future__ import annotations

import os
import shutil
import subprocess

from imcodes_core.drivers import InputDelivery, LaunchPlan, LaunchRequest, ProcessDriver
from imcodes_core.hookspecs import hookimpl
from imcodes_core.specs import AgentDriverSpec


class ShellDriver(ProcessDriver):
    name = "shell"
    input_delivery = InputDelivery.SEND_KEYS
    executable: str | None = None

    def shell_path(self) -> str:
        return os.environ.get("SHELL") or shutil.which("bash") or "/bin/sh"

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, "IMCODES_SESSION": request.session}
        return LaunchPlan([self.shell_path(), *request.extra_args], env, request.cwd)

    def installed_version(self) -> str | None:
        path = self.shell_path()
        try:
            out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        first = out.stdout.strip().splitlines()
        return first[0] if first and out.returncode == 0 else os.path.basename(path)


@hookimpl(trylast=True)
def imcodes_agent_drivers() -> list[AgentDriverSpec]:
    return [AgentDriverSpec(name="shell", driver=ShellDriver(), title="Shell")]
