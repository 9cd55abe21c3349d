"""Entry point of imcodes-openclaw (group ``imcodes``): ``openclaw chat`` in tmux with its status-line detector,
and ``openclaw acp`` as a transport (with the Gateway it needs)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from imcodes_core.drivers import DriverKind
from imcodes_core.hookspecs import hookimpl
from imcodes_core.specs import AgentDriverSpec, SettingSpec, SettingType, StateDetectorSpec
from imcodes_openclaw.bridge import GATEWAY_MODES
from imcodes_openclaw.driver import ACP_CAPABILITIES, TESTED_VERSIONS, OpenClawAcpDriver, OpenClawDriver
from imcodes_openclaw.screen import OpenClawScreenDetector


def make_driver(env: Mapping[str, str] | None = None) -> OpenClawDriver:
    env = os.environ if env is None else env
    return OpenClawDriver(env.get("IMCODES_OPENCLAW_BINARY") or "openclaw")


def make_acp_driver(env: Mapping[str, str] | None = None) -> OpenClawAcpDriver:
    """The transport, configured from ``IMCODES_OPENCLAW_*`` (the settings this plugin declares)."""
    env = os.environ if env is None else env
    port = env.get("IMCODES_OPENCLAW_GATEWAY_PORT", "").strip()
    if port and not port.isdigit():
        raise ValueError(f"IMCODES_OPENCLAW_GATEWAY_PORT={port!r} is not a port number")
    return OpenClawAcpDriver(
        env.get("IMCODES_OPENCLAW_BINARY") or "openclaw",
        gateway=env.get("IMCODES_OPENCLAW_GATEWAY", "").strip() or "auto",
        gateway_port=int(port or 0),
    )


@hookimpl
def imcodes_agent_drivers() -> list[AgentDriverSpec]:
    return [
        AgentDriverSpec(
            name="openclaw", driver=make_driver(), title="OpenClaw", tested_versions=TESTED_VERSIONS, cli="openclaw"
        ),
        AgentDriverSpec(
            name="openclaw-acp",
            driver=make_acp_driver(),
            title="OpenClaw (ACP, chat only)",
            kind=DriverKind.TRANSPORT,
            capabilities=ACP_CAPABILITIES,
            tested_versions=TESTED_VERSIONS,
            cli="openclaw",
        ),
    ]


@hookimpl
def imcodes_state_detectors() -> list[StateDetectorSpec]:
    return [StateDetectorSpec(name="openclaw-screen", detector=OpenClawScreenDetector())]


@hookimpl
def imcodes_settings() -> list[SettingSpec]:
    return [
        SettingSpec(name="openclaw_binary", default="openclaw", description="OpenClaw executable"),
        SettingSpec(
            name="openclaw_gateway",
            default="auto",
            description="openclaw-acp: auto (join the Gateway on the port, else start one per session) or external",
            choices=GATEWAY_MODES,
        ),
        SettingSpec(
            name="openclaw_gateway_port",
            type=SettingType.INTEGER,
            default=None,
            description="openclaw-acp: the Gateway port (unset: $OPENCLAW_GATEWAY_PORT, else 18789)",
        ),
    ]
