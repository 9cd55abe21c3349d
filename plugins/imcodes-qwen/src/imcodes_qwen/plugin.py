"""Entry point of imcodes-qwen (group ``imcodes``): the Qwen Code driver, its screen and event detectors."""

from __future__ import annotations

import os
from collections.abc import Mapping

from imcodes_core.drivers import DriverKind
from imcodes_core.hookspecs import hookimpl
from imcodes_core.specs import AgentDriverSpec, SettingSpec, StateDetectorSpec
from imcodes_qwen.driver import ACP_CAPABILITIES, CAPABILITIES, TESTED_VERSIONS, QwenAcpDriver, QwenDriver
from imcodes_qwen.events import QwenEventDetector
from imcodes_qwen.screen import QwenScreenDetector


def make_driver(env: Mapping[str, str] | None = None, *, acp: bool = False) -> QwenDriver:
    """A driver configured from ``IMCODES_QWEN_*`` (the settings this plugin declares); ``acp``: the transport."""
    env = os.environ if env is None else env
    return (QwenAcpDriver if acp else QwenDriver)(
        executable=env.get("IMCODES_QWEN_BINARY") or "qwen",
        approval_mode=env.get("IMCODES_QWEN_APPROVAL_MODE", "default") or None,
        base_url=env.get("IMCODES_QWEN_BASE_URL", ""),
        model=env.get("IMCODES_QWEN_MODEL", ""),
        auth_type=env.get("IMCODES_QWEN_AUTH_TYPE", ""),
    )


@hookimpl
def imcodes_agent_drivers() -> list[AgentDriverSpec]:
    return [
        AgentDriverSpec(
            name="qwen",
            driver=make_driver(),
            title="Qwen Code",
            capabilities=CAPABILITIES,
            tested_versions=TESTED_VERSIONS,
            cli="qwen",
        ),
        AgentDriverSpec(
            name="qwen-acp",
            driver=make_driver(acp=True),
            title="Qwen Code (ACP, chat only)",
            kind=DriverKind.TRANSPORT,
            capabilities=ACP_CAPABILITIES,
            tested_versions=TESTED_VERSIONS,
            cli="qwen",
        ),
    ]


@hookimpl
def imcodes_state_detectors() -> list[StateDetectorSpec]:
    return [
        StateDetectorSpec(name="qwen-screen", detector=QwenScreenDetector()),
        StateDetectorSpec(name="qwen-events", detector=QwenEventDetector()),
    ]


@hookimpl
def imcodes_settings() -> list[SettingSpec]:
    return [
        SettingSpec(name="qwen_binary", default="qwen", description="Qwen Code executable"),
        SettingSpec(name="qwen_approval_mode", default="default", description="--approval-mode of new sessions"),
        SettingSpec(name="qwen_base_url", default="", description="OpenAI-compatible endpoint (OPENAI_BASE_URL)"),
        SettingSpec(name="qwen_model", default="", description="OPENAI_MODEL for new sessions"),
        SettingSpec(
            name="qwen_auth_type",
            default="",
            description="--auth-type of new sessions (empty: openai when qwen_base_url is set, else Qwen's own)",
        ),
    ]
