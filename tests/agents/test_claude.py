"""Claude Code, the real CLI in tmux, offline against the fake model endpoint: the whole state sequence."""

from __future__ import annotations

import json

import pytest

from imcodes_core.states import SessionState as S

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

# Stand-ins until imcodes-claude registers its screen detector (patterns from the fixtures' captures of 2.1.331).
MARKERS = [
    (S.EXITED, r"Resume this session with:"),
    (S.ERROR, r"Unable to connect to Anthropic services|Invalid API key"),
    (S.SETUP, r"Do you trust the files in this folder|Select login method|Choose the text style"),
    (S.WAITING_PERMISSION, r"Do you want to proceed\?"),
    (S.WORKING, r"esc to interrupt"),
    (S.IDLE, r"^❯[\s\xa0]*$"),
]


def prepare_home(world, api_key: str) -> None:
    """Onboarding done, the fake key approved, the project trusted: Claude starts straight at its input box."""
    state = {
        "hasCompletedOnboarding": True,
        "customApiKeyResponses": {"approved": [api_key[-20:]], "rejected": []},
        "projects": {str(world.project): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}},
    }
    (world.home / ".claude.json").write_text(json.dumps(state), encoding="utf-8")


def test_claude_code_full_session(agent_world, agent_pane, fake_model_endpoint) -> None:
    prepare_home(agent_world, agent_world.env["ANTHROPIC_API_KEY"])
    # manual: real permission prompts (the default mode approves by itself); imcodes-claude's driver adds it
    pane = agent_pane("claude", MARKERS, args_without_driver=["--permission-mode", "manual"])

    pane.standard_session(agent_world, approve=["Enter"], exit_line="/exit")

    pane.assert_in_order([S.STARTING, S.IDLE, S.WORKING, S.IDLE, S.WAITING_PERMISSION, S.WORKING, S.IDLE, S.EXITED])
    kinds = [r.reply_kind for r in fake_model_endpoint.requests if r.api == "anthropic"]
    assert [k for k in kinds if k in ("text", "tool", "after_tool")] == ["text", "tool", "after_tool"]
