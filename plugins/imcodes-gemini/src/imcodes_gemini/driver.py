"""The Gemini CLI driver: how imcodes launches ``gemini`` in a tmux pane."""

from __future__ import annotations

import os
from pathlib import Path

from imcodes_core.drivers import Capability, InputDelivery, LaunchPlan, LaunchRequest, ProcessDriver
from imcodes_gemini.hooks import session_home, user_gemini_home

TESTED_VERSIONS = ("0.61.0",)
CAPABILITIES = frozenset({Capability.RESUME, Capability.INTERRUPT, Capability.APPROVE, Capability.HOOKS})


class GeminiDriver(ProcessDriver):
    """``gemini`` in a pane; ``gemini --resume <id>`` continues an earlier conversation (the command the CLI
    prints when it exits). ``base_url`` sets ``GOOGLE_GEMINI_BASE_URL`` (e.g. the test kit's fake endpoint);
    ``skip_trust`` passes ``--skip-trust`` so an untrusted folder does not stop the session at a trust prompt.
    The API key (``GEMINI_API_KEY``) comes in ``request.env``, never from the driver.

    When the daemon launches the session (``IMCODES_HOME`` in ``request.env``: where the hook finds the daemon's
    event socket), imcodes' hooks come along through a per-session ``GEMINI_CLI_HOME`` (see ``hooks``): the user's
    ``~/.gemini/settings.json`` and the project's settings are never written.
    """

    name = "gemini"
    input_delivery = InputDelivery.SEND_KEYS
    tested_versions = TESTED_VERSIONS
    # 0.61.0 ("Thinking... (esc to cancel, 6s)"): one Escape stops the turn; the cancelled exchange is left out of
    # the next request's history.
    interrupt_keys = ("Escape",)

    def __init__(self, executable: str = "gemini", base_url: str = "", skip_trust: bool = False) -> None:
        self.executable = executable
        self.base_url = base_url
        self.skip_trust = skip_trust

    def base_argv(self, request: LaunchRequest) -> list[str]:
        argv = [self.executable or "gemini"]
        if self.skip_trust:
            argv.append("--skip-trust")
        if request.resume_id:
            argv += ["--resume", request.resume_id]
        return argv

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, "IMCODES_SESSION": request.session}
        if self.base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = self.base_url
        if request.env.get("IMCODES_HOME"):
            home = session_home(
                Path(request.env["IMCODES_HOME"]),
                request.session,
                user_gemini_home({**os.environ, **request.env}),
                folder=request.state_dir / "gemini-home" if request.state_dir else None,  # removed with the session
            )
            if home is not None:
                env["GEMINI_CLI_HOME"] = str(home)
        return LaunchPlan([*self.base_argv(request), *request.extra_args], env, request.cwd)
