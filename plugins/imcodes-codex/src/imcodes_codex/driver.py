"""The Codex driver: how imcodes launches the ``codex`` TUI in a tmux pane."""

from __future__ import annotations

import os
from pathlib import Path

from imcodes_codex.hooks import codex_home, config_overrides, user_has_notify
from imcodes_core.drivers import Capability, InputDelivery, LaunchPlan, LaunchRequest, ProcessDriver

TESTED_VERSIONS = ("0.169.0",)
NO_DAEMON = "--no-daemon"  # `codex --help` and `codex resume --help` of 0.169.0 both take it
CAPABILITIES = frozenset({Capability.RESUME, Capability.INTERRUPT, Capability.APPROVE, Capability.HOOKS})


class CodexDriver(ProcessDriver):
    """``codex`` in a pane; ``codex resume <id>`` to continue an earlier conversation (the command Codex prints
    when it exits).

    Codex reads its model provider from ``$CODEX_HOME/config.toml`` (``~/.codex`` by default), not from the
    environment: ``codex_home`` points a session at another configuration folder, e.g. one whose provider is the
    test kit's fake model endpoint (:func:`imcodes_codex.config.offline_config` renders such a file).

    When the daemon launches the session (``IMCODES_HOME`` in ``request.env``: where the hook finds the daemon's
    event socket), imcodes' hooks, their trust and ``notify`` come along as ``-c`` overrides (see ``hooks``): the
    user's ``config.toml`` and ``hooks.json`` are never written.
    """

    name = "codex"
    input_delivery = InputDelivery.SEND_KEYS
    tested_versions = TESTED_VERSIONS
    # 0.169.0 ("• Working (3s • esc to interrupt)"): one Escape stops the turn ("■ Conversation interrupted"),
    # the input line stays empty.
    interrupt_keys = ("Escape",)

    def __init__(self, executable: str = "codex", codex_home: str = "", no_daemon: bool = True) -> None:
        self.executable = executable
        self.codex_home = codex_home
        # Without --no-daemon the TUI starts a detached app-server daemon that outlives the pane.
        self.no_daemon = no_daemon

    def base_argv(self, request: LaunchRequest) -> list[str]:
        argv = [self.executable or "codex"]
        if request.env.get("IMCODES_HOME"):
            home = self.codex_home or codex_home({**os.environ, **request.env})
            argv += config_overrides(notify=not user_has_notify(Path(home)))
        if request.resume_id:
            argv += ["resume", request.resume_id]
        # Codex refuses the flag twice ("cannot be used multiple times"): extra_args may carry it already.
        if self.no_daemon and NO_DAEMON not in request.extra_args:
            argv.append(NO_DAEMON)
        return argv

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, "IMCODES_SESSION": request.session}
        if self.codex_home:
            env["CODEX_HOME"] = self.codex_home
        return LaunchPlan([*self.base_argv(request), *request.extra_args], env, request.cwd)
