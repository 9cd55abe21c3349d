"""Codex, the real CLI in tmux, offline against the fake model endpoint (Responses API): the whole state sequence."""

from __future__ import annotations

import pytest

from imcodes_core.states import SessionState as S

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

# Stand-ins until imcodes-codex registers its screen detector (patterns from the fixtures' captures of 0.169.0).
MARKERS = [
    (S.EXITED, r"To continue this session, run:"),
    (S.SETUP, r"Trust this folder\?|Sign in with ChatGPT|Provide your own API key"),
    (S.WAITING_PERMISSION, r"Would you like to run the following command\?|Press enter to confirm or esc to cancel"),
    (S.WORKING, r"esc to interrupt"),
    # While the answer streams Codex shows no status line: the last prompt has output but no "Worked for" yet.
    (S.WORKING, r"^› (?!Ask Codex).*\n(?:(?!\s*Worked for ).*\n)*?› Ask Codex"),
    (S.IDLE, r"\? for shortcuts"),
]

# The default sandbox (workspace-write) runs a command that writes in the project without asking; a prefix rule
# with decision "prompt" makes Codex ask for the fake model's "sleep 1 && touch ..." like for any risky command.
RULES = """prefix_rule(
    pattern = ["sleep"],
    decision = "prompt",
    justification = "imcodes test: approved from the daemon",
    match = ["sleep 1"],
)
"""


def prepare_home(world, base_url: str) -> None:
    """The fake provider (no ChatGPT sign-in), the project trusted, no update check, no analytics."""
    codex = world.home / ".codex"
    (codex / "rules").mkdir(parents=True)
    (codex / "rules" / "default.rules").write_text(RULES, encoding="utf-8")
    (codex / "config.toml").write_text(
        f"""model = "fake-model"
model_provider = "fake"
check_for_update_on_startup = false

[model_providers.fake]
name = "fake"
base_url = "{base_url}/v1"
env_key = "FAKE_API_KEY"
wire_api = "responses"
requires_openai_auth = false

[projects."{world.project}"]
trust_level = "trusted"

[analytics]
enabled = false
""",
        encoding="utf-8",
    )


def test_codex_full_session(agent_world, agent_pane, fake_model_endpoint) -> None:
    prepare_home(agent_world, fake_model_endpoint.url)
    # --no-daemon: the TUI's app-server would otherwise be a detached daemon that outlives the pane
    pane = agent_pane("codex", MARKERS, extra_args=["--no-daemon"])

    pane.standard_session(agent_world, approve=["y"], exit_line="/quit")

    pane.assert_in_order([S.STARTING, S.IDLE, S.WORKING, S.IDLE, S.WAITING_PERMISSION, S.WORKING, S.IDLE, S.EXITED])
    kinds = [r.reply_kind for r in fake_model_endpoint.requests if r.api == "openai-responses"]
    assert "tool" in kinds and kinds.index("tool") < kinds.index("after_tool")
