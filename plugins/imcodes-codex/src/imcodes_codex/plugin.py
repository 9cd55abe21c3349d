"""Entry point of imcodes-codex (group ``imcodes``): the Codex driver, its screen and event detectors."""

from __future__ import annotations

import os
from collections.abc import Mapping

from imcodes_codex.driver import CAPABILITIES, TESTED_VERSIONS, CodexDriver
from imcodes_codex.events import CodexEventDetector
from imcodes_codex.screen import CodexScreenDetector
from imcodes_core.hookspecs import hookimpl
from imcodes_core.specs import AgentDriverSpec, SettingSpec, StateDetectorSpec


def make_driver(env: Mapping[str, str] | None = None) -> CodexDriver:
    """A driver configured from ``IMCODES_CODEX_*`` (the settings this plugin declares)."""
    env = os.environ if env is None else env
    return CodexDriver(env.get("IMCODES_CODEX_BINARY") or "codex", env.get("IMCODES_CODEX_HOME", ""))


@hookimpl
def imcodes_agent_drivers() -> list[AgentDriverSpec]:
    return [
        AgentDriverSpec(
            name="codex",
            driver=make_driver(),
            title="Codex",
            capabilities=CAPABILITIES,
            tested_versions=TESTED_VERSIONS,
            cli="codex",
        )
    ]


@hookimpl
def imcodes_state_detectors() -> list[StateDetectorSpec]:
    return [
        StateDetectorSpec(name="codex-screen", detector=CodexScreenDetector()),
        StateDetectorSpec(name="codex-events", detector=CodexEventDetector()),
    ]


@hookimpl
def imcodes_settings() -> list[SettingSpec]:
    return [
        SettingSpec(name="codex_binary", default="codex", description="Codex executable"),
        SettingSpec(name="codex_home", default="", description="CODEX_HOME for new sessions (empty: ~/.codex)"),
    ]
