"""Gemini CLI, the real CLI in tmux, offline against the fake model endpoint (Gemini API, router JSON included)."""

from __future__ import annotations

import json

import pytest

from imcodes_core.states import SessionState as S

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

# Stand-ins until imcodes-gemini registers its screen detector (patterns from the fixtures' captures of 0.61.0).
MARKERS = [
    (S.EXITED, r"To resume this session: gemini --resume|Agent powering down"),
    (S.SETUP, r"Do you trust this folder|How would you like to authenticate|Enter Gemini API Key"),
    (S.WAITING_PERMISSION, r"Allow execution of|Apply this change\?"),
    (S.WORKING, r"esc to cancel"),
    # typed while it still starts up (the input box paints before it is ready): sent once it is
    (S.WORKING, r"Queued \(press ↑ to edit\)"),
    # "ℹ Initializing... Prompts will be queued." right above the footer: the input box is not ready yet
    (S.STARTING, r"Prompts will be queued\.\n.*\? for shortcuts$"),
    (S.IDLE, r"Type your message or @path/to/file"),
]


def settings_files(project: str) -> tuple[dict, dict]:
    """settings.json and trustedFolders.json: imcodes-gemini's renderers when installed, else the README's."""
    try:
        from imcodes_gemini.config import offline_settings, trusted_folders
    except ImportError:
        settings = {
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "general": {"disableAutoUpdate": True},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
        }
        return settings, {project: "TRUST_FOLDER"}
    return offline_settings(), trusted_folders([project])


def test_gemini_cli_full_session(agent_world, agent_pane, fake_model_endpoint) -> None:
    settings, trusted = settings_files(str(agent_world.project))
    gemini = agent_world.home / ".gemini"
    gemini.mkdir()
    (gemini / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    (gemini / "trustedFolders.json").write_text(json.dumps(trusted), encoding="utf-8")
    pane = agent_pane("gemini", MARKERS)

    # "1. Allow once" is the selected choice of the approval box
    pane.standard_session(agent_world, approve=["Enter"], exit_line="/quit")

    pane.assert_in_order([S.STARTING, S.IDLE, S.WORKING, S.IDLE, S.WAITING_PERMISSION, S.WORKING, S.IDLE, S.EXITED])
    kinds = [r.reply_kind for r in fake_model_endpoint.requests if r.api == "gemini"]
    assert "json" in kinds, "Gemini's router was never asked"
    assert "tool" in kinds and kinds.index("tool") < kinds.index("after_tool")
