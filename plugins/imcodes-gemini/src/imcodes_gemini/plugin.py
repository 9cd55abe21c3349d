"""Entry point of imcodes-gemini (group ``imcodes``): the Gemini CLI driver, its screen and event detectors."""

from __future__ import annotations

import os
from collections.abc import Mapping

from imcodes_core.hookspecs import hookimpl
from imcodes_core.specs import AgentDriverSpec, SettingSpec, SettingType, StateDetectorSpec
from imcodes_gemini.driver import CAPABILITIES, TESTED_VERSIONS, GeminiDriver
from imcodes_gemini.events import GeminiEventDetector
from imcodes_gemini.screen import GeminiScreenDetector

_TRUE = {"1", "true", "yes", "on"}


def make_driver(env: Mapping[str, str] | None = None) -> GeminiDriver:
    """A driver configured from ``IMCODES_GEMINI_*`` (the settings this plugin declares)."""
    env = os.environ if env is None else env
    return GeminiDriver(
        executable=env.get("IMCODES_GEMINI_BINARY") or "gemini",
        base_url=env.get("IMCODES_GEMINI_BASE_URL", ""),
        skip_trust=env.get("IMCODES_GEMINI_SKIP_TRUST", "").lower() in _TRUE,
    )


@hookimpl
def imcodes_agent_drivers() -> list[AgentDriverSpec]:
    return [
        AgentDriverSpec(
            name="gemini",
            driver=make_driver(),
            title="Gemini CLI",
            capabilities=CAPABILITIES,
            tested_versions=TESTED_VERSIONS,
            cli="gemini",
        )
    ]


@hookimpl
def imcodes_state_detectors() -> list[StateDetectorSpec]:
    return [
        StateDetectorSpec(name="gemini-screen", detector=GeminiScreenDetector()),
        StateDetectorSpec(name="gemini-events", detector=GeminiEventDetector()),
    ]


@hookimpl
def imcodes_settings() -> list[SettingSpec]:
    return [
        SettingSpec(name="gemini_binary", default="gemini", description="Gemini CLI executable"),
        SettingSpec(name="gemini_base_url", default="", description="GOOGLE_GEMINI_BASE_URL for new sessions"),
        SettingSpec(
            name="gemini_skip_trust",
            type=SettingType.BOOLEAN,
            default=False,
            description="start sessions with --skip-trust (no folder trust prompt)",
        ),
    ]
