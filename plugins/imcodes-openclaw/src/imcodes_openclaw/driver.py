"""The OpenClaw drivers: ``openclaw chat`` in a tmux pane, and ``openclaw acp`` driven headless through ACP.

The pane driver: the fixtures record OpenClaw 2026.9.6 running as ``openclaw chat`` (its TUI, "local embedded"
mode); a screen detector reads its status line. The transport: ``openclaw acp`` speaks ACP on stdio and forwards
to an OpenClaw Gateway over WebSocket, so it is launched through :mod:`imcodes_openclaw.bridge`, which joins a
running Gateway or starts one for the session. The Gateway's exec approvals reach the ACP client as
``session/request_permission`` (with ``tools.exec.mode: "ask"`` in OpenClaw's config), and so the phone.
"""

from __future__ import annotations

import sys

from imcodes_core.drivers import (
    Capability,
    DriverKind,
    InputDelivery,
    LaunchPlan,
    LaunchRequest,
    ProcessDriver,
)
from imcodes_openclaw.bridge import GATEWAY_MODES, QUIET_ENV

TESTED_VERSIONS = ("2026.9.6",)
# Over ACP the daemon also interrupts (session/cancel), records the chat events itself and resumes: the bridge
# offers loadSession, and session/load reopens a conversation even after its Gateway restarted (the Gateway keeps
# sessions in OpenClaw's state directory; tests/core/acp/test_openclaw_acp.py).
ACP_CAPABILITIES = frozenset({Capability.RESUME, Capability.APPROVE, Capability.INTERRUPT, Capability.CHAT_EVENTS})


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


class OpenClawAcpDriver(OpenClawDriver):
    """``openclaw acp`` behind :mod:`imcodes_openclaw.bridge` (this Python runs it): no TUI, the daemon speaks ACP
    on its stdio (imcodes_core/daemon/transport.py). ``gateway``: ``auto`` joins the Gateway on ``gateway_port``
    or starts one for the session, ``external`` runs only the bridge (``--url`` etc. go in ``extra_args``).
    ``gateway_port`` 0: ``$OPENCLAW_GATEWAY_PORT``, else OpenClaw's default 18789."""

    name = "openclaw-acp"
    kind = DriverKind.TRANSPORT
    input_delivery = InputDelivery.TRANSPORT
    # initialize waits for a Gateway the bridge may start first: ~10 s on an idle machine, 46 s seen under load
    start_seconds = 150.0

    def __init__(self, executable: str = "openclaw", gateway: str = "auto", gateway_port: int = 0) -> None:
        super().__init__(executable)
        if gateway not in GATEWAY_MODES:
            raise ValueError(f"openclaw gateway mode {gateway!r}: expected one of {', '.join(GATEWAY_MODES)}")
        if not 0 <= gateway_port < 65536:
            raise ValueError(f"openclaw gateway port {gateway_port} is not a TCP port")
        self.gateway = gateway
        self.gateway_port = gateway_port

    def base_argv(self, request: LaunchRequest) -> list[str]:
        if request.resume_id:  # the daemon reopens ACP conversations with session/load, never by argument
            raise ValueError("the openclaw-acp driver takes no resume id: the daemon resumes over ACP")
        argv = [sys.executable, "-m", "imcodes_openclaw.bridge", "--openclaw", self.executable or "openclaw"]
        argv += ["--gateway", self.gateway]
        if self.gateway_port:
            argv += ["--port", str(self.gateway_port)]
        return [*argv, "--"]

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, **QUIET_ENV, "IMCODES_SESSION": request.session}
        return LaunchPlan([*self.base_argv(request), *request.extra_args], env, request.cwd)
