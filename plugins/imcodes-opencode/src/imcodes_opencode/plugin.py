"""Entry point of imcodes-opencode (group ``imcodes``): the OpenCode driver, its screen and event detectors."""

from __future__ import annotations

import os
from collections.abc import Mapping

from imcodes_core.hookspecs import hookimpl
from imcodes_core.specs import AgentDriverSpec, SettingSpec, SettingType, StateDetectorSpec
from imcodes_opencode.driver import CAPABILITIES, TESTED_VERSIONS, OpenCodeDriver
from imcodes_opencode.events import OpenCodeEventDetector
from imcodes_opencode.screen import OpenCodeScreenDetector

_TRUE = {"1", "true", "yes", "on"}


def make_driver(env: Mapping[str, str] | None = None) -> OpenCodeDriver:
    """A driver configured from ``IMCODES_OPENCODE_*`` (the settings this plugin declares)."""
    env = os.environ if env is None else env
    return OpenCodeDriver(
        executable=env.get("IMCODES_OPENCODE_BINARY") or "opencode",
        port=int(port) if (port := env.get("IMCODES_OPENCODE_PORT", "").strip()) else None,
        disable_models_fetch=env.get("IMCODES_OPENCODE_OFFLINE", "").lower() in _TRUE,
    )


@hookimpl
def imcodes_agent_drivers() -> list[AgentDriverSpec]:
    return [
        AgentDriverSpec(
            name="opencode",
            driver=make_driver(),
            title="OpenCode",
            capabilities=CAPABILITIES,
            tested_versions=TESTED_VERSIONS,
            cli="opencode",
        )
    ]


@hookimpl
def imcodes_state_detectors() -> list[StateDetectorSpec]:
    return [
        StateDetectorSpec(name="opencode-screen", detector=OpenCodeScreenDetector()),
        StateDetectorSpec(name="opencode-events", detector=OpenCodeEventDetector()),
    ]


@hookimpl
def imcodes_settings() -> list[SettingSpec]:
    return [
        SettingSpec(name="opencode_binary", default="opencode", description="OpenCode executable"),
        SettingSpec(
            name="opencode_port",
            default="",
            description="--port of new sessions: its HTTP API and GET /event stream (empty: none)",
        ),
        SettingSpec(
            name="opencode_offline",
            type=SettingType.BOOLEAN,
            default=False,
            description="set OPENCODE_DISABLE_MODELS_FETCH=1 in new sessions (machines without network)",
        ),
    ]
