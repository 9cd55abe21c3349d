"""Entry point of imcodes-claude (group ``imcodes``): the Claude Code driver, its screen and event detectors."""

from __future__ import annotations

import os
from collections.abc import Mapping

from imcodes_claude.driver import CAPABILITIES, TESTED_VERSIONS, ClaudeDriver
from imcodes_claude.events import ClaudeEventDetector
from imcodes_claude.screen import ClaudeScreenDetector
from imcodes_core.hookspecs import hookimpl
from imcodes_core.specs import AgentDriverSpec, SettingSpec, StateDetectorSpec


def make_driver(env: Mapping[str, str] | None = None) -> ClaudeDriver:
    """A driver configured from ``IMCODES_CLAUDE_*`` (the settings this plugin declares)."""
    env = os.environ if env is None else env
    return ClaudeDriver(
        executable=env.get("IMCODES_CLAUDE_BINARY") or "claude",
        permission_mode=env.get("IMCODES_CLAUDE_PERMISSION_MODE", "manual") or None,
        base_url=env.get("IMCODES_CLAUDE_BASE_URL", ""),
    )


@hookimpl
def imcodes_agent_drivers() -> list[AgentDriverSpec]:
    return [
        AgentDriverSpec(
            name="claude",
            driver=make_driver(),
            title="Claude Code",
            capabilities=CAPABILITIES,
            tested_versions=TESTED_VERSIONS,
            cli="claude",
        )
    ]


@hookimpl
def imcodes_state_detectors() -> list[StateDetectorSpec]:
    return [
        StateDetectorSpec(name="claude-screen", detector=ClaudeScreenDetector()),
        StateDetectorSpec(name="claude-events", detector=ClaudeEventDetector()),
    ]


@hookimpl
def imcodes_settings() -> list[SettingSpec]:
    return [
        SettingSpec(name="claude_binary", default="claude", description="Claude Code executable"),
        SettingSpec(
            name="claude_permission_mode",
            default="manual",
            description="--permission-mode of new sessions; manual raises prompts imcodes shows (empty: the CLI's)",
        ),
        SettingSpec(
            name="claude_base_url", default="", description="ANTHROPIC_BASE_URL for new sessions (empty: unchanged)"
        ),
    ]
