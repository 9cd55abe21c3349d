"""Qwen Code, the real CLI in tmux, offline against the fake model endpoint (OpenAI chat completions)."""

from __future__ import annotations

import pytest

from imcodes_core.states import SessionState as S

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

# Stand-ins until imcodes-qwen registers its screen detector (patterns from the fixtures' captures of 0.24.4).
MARKERS = [
    (S.EXITED, r"Agent powering down|To resume this session"),
    (S.SETUP, r"Select a provider|How would you like to authenticate|Enter to select, ↑↓ to navigate"),
    (S.WAITING_PERMISSION, r"Waiting for user confirmation|Allow execution of"),
    (S.WORKING, r"esc to cancel"),
    (S.IDLE, r"Type your message or @path/to/file"),
]


def test_qwen_code_full_session(agent_world, agent_pane, fake_model_endpoint, monkeypatch) -> None:
    # imcodes-qwen reads its endpoint setting when the host is made: it then adds --auth-type openai
    monkeypatch.setenv("IMCODES_QWEN_BASE_URL", f"{fake_model_endpoint.url}/v1")
    monkeypatch.setenv("IMCODES_QWEN_MODEL", fake_model_endpoint.models[0])
    # --approval-mode default: real approval prompts (imcodes-qwen's driver passes it too)
    pane = agent_pane("qwen", MARKERS, args_without_driver=["--auth-type", "openai", "--approval-mode", "default"])

    # "1. Yes, allow once" is the selected choice
    pane.standard_session(agent_world, approve=["Enter"], exit_line="/quit")

    pane.assert_in_order([S.STARTING, S.IDLE, S.WORKING, S.IDLE, S.WAITING_PERMISSION, S.WORKING, S.IDLE, S.EXITED])
    kinds = [r.reply_kind for r in fake_model_endpoint.requests if r.api == "openai-chat"]
    assert "tool" in kinds and kinds.index("tool") < kinds.index("after_tool")
