"""Entry point of imcodes-openclaw (group ``imcodes``): ``openclaw chat`` in tmux and its status-line detector."""

from __future__ import annotations

import os
from collections.abc import Mapping

from imcodes_core.hookspecs import hookimpl
from imcodes_core.specs import AgentDriverSpec, SettingSpec, StateDetectorSpec
from imcodes_openclaw.driver import TESTED_VERSIONS, OpenClawDriver
from imcodes_openclaw.screen import OpenClawScreenDetector


def make_driver(env: Mapping[str, str] | None = None) -> OpenClawDriver:
    env = os.environ if env is None else env
    return OpenClawDriver(env.get("IMCODES_OPENCLAW_BINARY") or "openclaw")


@hookimpl
def imcodes_agent_drivers() -> list[AgentDriverSpec]:
    return [
        AgentDriverSpec(
            name="openclaw", driver=make_driver(), title="OpenClaw", tested_versions=TESTED_VERSIONS, cli="openclaw"
        )
    ]


@hookimpl
def imcodes_state_detectors() -> list[StateDetectorSpec]:
    return [StateDetectorSpec(name="openclaw-screen", detector=OpenClawScreenDetector())]


@hookimpl
def imcodes_settings() -> list[SettingSpec]:
    return [SettingSpec(name="openclaw_binary", default="openclaw", description="OpenClaw executable")]
