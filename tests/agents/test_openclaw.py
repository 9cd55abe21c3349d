"""OpenClaw, the real CLI (`openclaw chat`, local embedded mode) in tmux, offline against the fake model endpoint.

Checked: starting, idle, working, idle (a text turn), working, idle (a tool turn), exited. The tool turn has no
permission step, and this test pins down why, so that a release which changes it fails here: with
``"tools": {"exec": {"mode": "ask"}}`` OpenClaw 2026.9.6 registers every exec approval with a Gateway, and

- ``openclaw chat`` (local mode) has none: the tool fails at once with "Exec approval registration failed:
  GatewayTransportError: Gateway not reachable" (screen ``openclaw-chat-exec-ask-no-gateway`` in the plugin's
  fixtures), the model gets that as the tool's result, and the turn ends without a question;
- ``openclaw chat`` refuses to start while a Gateway owns its state directory ("A Gateway is running for this
  state directory ... Run without --local"), and ``openclaw tui`` against a Gateway is a headless run for exec
  approvals ("exec denied: Headless runs cannot wait for interactive exec approval", askFallback deny): the TUI
  renders plugin approvals only, never exec approval cards.

So the phone approves OpenClaw's commands through the ``openclaw-acp`` transport
(tests/core/acp/test_openclaw_acp.py).
"""

from __future__ import annotations

import json
from dataclasses import replace

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
NO_APPROVAL_ROUTE = "Exec approval registration failed"  # the exec tool's result in local mode with mode "ask"


def config(world, base_url: str, api_key: str) -> dict:
    """~/.openclaw/openclaw.json: a custom OpenAI-compatible provider at the fake endpoint, its model the default,
    and exec set to ask before every command that no allowlist covers."""
    model = {"id": "fake-model", "name": "fake-model", "contextWindow": 128000, "maxTokens": 8192}
    provider = {"baseUrl": base_url, "apiKey": api_key, "api": "openai-completions", "models": [model]}
    return {
        "models": {"providers": {"fake": provider}},
        "agents": {"defaults": {"model": {"primary": "fake/fake-model"}, "workspace": str(world.project)}},
        "tools": {"exec": {"mode": "ask"}},
    }


def tool_results(endpoint) -> list[str]:
    """The text of every tool result OpenClaw sent back to the fake model."""
    return [
        str(message.get("content"))
        for request in endpoint.requests
        if request.api == "openai-chat" and isinstance(request.body, dict)
        for message in request.body.get("messages", [])
        if isinstance(message, dict) and message.get("role") == "tool"
    ]


def test_openclaw_chat_session(agent_world, agent_pane, fake_model_endpoint) -> None:
    # A plain command: OpenClaw refuses to bind an approval to one with a shell redirection or a compound script.
    fake_model_endpoint.behaviour = replace(
        fake_model_endpoint.behaviour, tool_command=f"touch {agent_world.tool_output.name}"
    )
    folder = agent_world.home / ".openclaw"
    folder.mkdir()
    settings = config(agent_world, f"{fake_model_endpoint.url}/v1", agent_world.env["OPENAI_API_KEY"])
    (folder / "openclaw.json").write_text(json.dumps(settings), encoding="utf-8")
    pane = agent_pane("openclaw", MARKERS, args_without_driver=["chat"])
    # the heaviest CLI (node, SQLite): slow to start and to turn when the machine is busy
    pane.turn_timeout = 40

    pane.wait_for(S.IDLE, timeout=40)
    assert pane.trail[0].state in (S.STARTING, S.SETUP), pane.describe()
    pane.type_line("Say hello SLOWLY please")
    pane.wait_for(S.WORKING, timeout=10)
    pane.wait_for_answer("FAKE_OK", pane.turn_timeout)

    pane.type_line("Please RUNTOOL now")
    pane.wait_for_answer("FAKE_TOOL_DONE", pane.turn_timeout)
    assert S.WAITING_PERMISSION not in pane.states(), pane.describe()
    assert not agent_world.tool_output.exists(), "exec ran without an approval"
    results = tool_results(fake_model_endpoint)
    assert len(results) == 1 and NO_APPROVAL_ROUTE in results[0], results

    pane.type_line("/exit", expect=(S.EXITED,))
    pane.wait_for(S.EXITED, timeout=15)
    assert pane.exit_status() == (0, None), pane.describe()
    assert S.ERROR not in pane.states(), pane.describe()
    pane.assert_in_order([S.STARTING, S.IDLE, S.WORKING, S.IDLE, S.WORKING, S.IDLE, S.EXITED])
    kinds = [r.reply_kind for r in fake_model_endpoint.requests if r.api == "openai-chat"]
    assert kinds == ["text", "tool", "after_tool"], kinds
