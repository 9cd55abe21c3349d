"""OpenCode, the real CLI in tmux, offline against the fake model endpoint (OpenAI-compatible provider)."""

from __future__ import annotations

import json
import socket

import pytest

from imcodes_core.states import SessionState as S

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

# Stand-ins until imcodes-opencode registers its screen detector (patterns from the fixtures' captures of 1.18.33).
MARKERS = [
    (S.WAITING_PERMISSION, r"Permission required"),
    (S.WORKING, r"esc interrupt"),
    # between a tool's end and the next model request the footer looks idle; the last step ("▣  Build · model ·
    # 2.3s") then ends in a tool block ("┃ ...") instead of answer text: the agent loop goes on
    (S.WORKING, r"^\s*┃.*\n\s*▣ [^\n]*\n(?![\s\S]*▣ )"),
    (S.IDLE, r"ctrl\+p commands"),
]


def offline_config(base_url: str) -> dict:
    """opencode.json: imcodes-opencode's renderer when installed, else the README's recipe."""
    try:
        from imcodes_opencode.config import offline_config as render
    except ImportError:
        return {
            "provider": {
                "fake": {
                    "npm": "@ai-sdk/openai-compatible",
                    "options": {"baseURL": base_url},
                    "models": {"fake-model": {}},
                }
            },
            "model": "fake/fake-model",
            "small_model": "fake/fake-model",
            "autoupdate": False,
            "share": "disabled",
            "permission": {"bash": "ask", "edit": "ask"},
        }
    return render(base_url)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_opencode_full_session(agent_world, agent_pane, fake_model_endpoint) -> None:
    folder = agent_world.home / ".config" / "opencode"
    folder.mkdir(parents=True)
    config = offline_config(f"{fake_model_endpoint.url}/v1")
    (folder / "opencode.json").write_text(json.dumps(config), encoding="utf-8")
    port = free_port()
    # --port: the TUI serves its HTTP API and GET /event (SSE), the machine channel for its state
    pane = agent_pane("opencode", MARKERS, extra_args=["--port", str(port)])
    try:
        from imcodes_opencode.events import sse_event
    except ImportError:
        pass  # no event detector to read them either: the screen alone
    else:
        pane.follow_sse(port, "/event", sse_event)

    # offline it waits 10-18 s before its first paint; "Allow once" is the selected choice
    pane.standard_session(agent_world, approve=["Enter"], exit_line="/exit", ready_timeout=30)

    pane.assert_in_order([S.STARTING, S.IDLE, S.WORKING, S.IDLE, S.WAITING_PERMISSION, S.WORKING, S.IDLE, S.EXITED])
    if pane.from_plugin:  # the plugin's event detector read the real stream
        kinds_seen = {event.kind for event in pane.events}
        assert {"session.status", "permission.asked"} <= kinds_seen, sorted(kinds_seen)
    kinds = [r.reply_kind for r in fake_model_endpoint.requests if r.api == "openai-chat"]
    assert "tool" in kinds and kinds.index("tool") < kinds.index("after_tool")
