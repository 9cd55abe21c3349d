"""OpenClaw, the real CLI (`openclaw chat`, local embedded mode) in tmux, offline against the fake model endpoint.

No tool turn yet: OpenClaw's shell tool is called ``exec``, which the fake model endpoint does not recognise as a
shell tool, so the tool keyword gets a plain answer. The rest of the sequence is checked.
"""

from __future__ import annotations

import json

import pytest

from imcodes_core.states import SessionState as S

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

# Stand-ins until imcodes-openclaw registers its status-line detector (its status line, as seen on 2026.9.6).
MARKERS = [
    (S.STARTING, r"starting up •"),
    (S.WORKING, r"• \d+s \| local ready"),  # " ⠸ bamboozling… • 4s | local ready", " ⠧ running • 0s | ..."
    (S.ERROR, r"local ready \| error"),
    (S.IDLE, r"local ready \| idle"),
]


def config(world, base_url: str, api_key: str) -> dict:
    """~/.openclaw/openclaw.json: a custom OpenAI-compatible provider at the fake endpoint, its model the default."""
    model = {"id": "fake-model", "name": "fake-model", "contextWindow": 128000, "maxTokens": 8192}
    provider = {"baseUrl": base_url, "apiKey": api_key, "api": "openai-completions", "models": [model]}
    return {
        "models": {"providers": {"fake": provider}},
        "agents": {"defaults": {"model": {"primary": "fake/fake-model"}, "workspace": str(world.project)}},
    }


def test_openclaw_chat_session(agent_world, agent_pane, fake_model_endpoint) -> None:
    folder = agent_world.home / ".openclaw"
    folder.mkdir()
    settings = config(agent_world, f"{fake_model_endpoint.url}/v1", agent_world.env["OPENAI_API_KEY"])
    (folder / "openclaw.json").write_text(json.dumps(settings), encoding="utf-8")
    pane = agent_pane("openclaw", MARKERS, args_without_driver=["chat"])

    # the heaviest CLI (node, SQLite): slow to start and to turn when the machine is busy
    pane.standard_session(agent_world, exit_line="/exit", ready_timeout=40, turn_timeout=40)

    pane.assert_in_order([S.STARTING, S.IDLE, S.WORKING, S.IDLE, S.EXITED])
    assert [r.reply_kind for r in fake_model_endpoint.requests if r.api == "openai-chat"][:1] == ["text"]
