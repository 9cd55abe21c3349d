"""Which conversation id each agent's recorded machine-channel events give the daemon (what resume takes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from imcodes_core.daemon.channels import reported_conversation
from imcodes_core.daemon.sessions import SessionRecord
from imcodes_core.states import AgentEvent

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = {
    "claude": ROOT / "plugins/imcodes-claude/tests/fixtures/claude-hooks.jsonl",
    "codex": ROOT / "plugins/imcodes-codex/tests/fixtures/codex-hooks.jsonl",
    "gemini": ROOT / "plugins/imcodes-gemini/tests/fixtures/gemini-hooks.jsonl",
}
CODEX_NOTIFY = ROOT / "plugins/imcodes-codex/tests/fixtures/codex-notify.jsonl"


def events(path: Path) -> list[AgentEvent]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        payload: dict[str, Any] = json.loads(line)["payload"]
        found.append(AgentEvent(payload.get("hook_event_name") or payload.get("type") or "", 0.0, payload))
    return found


def test_every_hook_event_names_its_conversation() -> None:
    expected = {
        "claude": "e2d26fa1-6d70-4832-ae3b-de93bf04cf44",
        "codex": "01a20d51-060a-72e3-9810-b279a0d8c6ba",  # the thread id in its rollout file name
        "gemini": "73d7f6ea-fc95-4b06-a28a-5f2d34503c4c",
    }
    for agent, path in FIXTURES.items():
        recorded = events(path)
        assert reported_conversation(agent, recorded[0]) == expected[agent]  # the SessionStart hook
        for event in recorded:  # (a fixture may hold several runs: each event names its own)
            assert reported_conversation(agent, event) == event.data["session_id"], (agent, event.kind)


def test_codex_notify_gives_the_thread_but_not_the_title_requests() -> None:
    notified = events(CODEX_NOTIFY)
    titles = [e for e in notified if str(e.data["input-messages"][-1]).startswith("Generate a concise")]
    turns = [e for e in notified if e not in titles]
    assert titles and turns
    assert {reported_conversation("codex", e) for e in titles} == {""}
    assert {reported_conversation("codex", e) for e in turns} == {str(e.data["thread-id"]) for e in turns}


def test_what_could_not_be_a_cli_argument_is_not_kept() -> None:
    for bad in ("", "--help", "a b", "x" * 300, 42, None):
        assert reported_conversation("claude", AgentEvent("SessionStart", 0.0, {"session_id": bad})) == ""
    option = json.dumps({"driver": "claude", "conversation": "--resume-me"})
    record = SessionRecord.from_option("claude-1", option)
    assert record is not None and record.conversation == ""
    kept = SessionRecord.from_option("claude-1", json.dumps({"driver": "claude", "conversation": "abc-1"}))
    assert kept is not None and kept.conversation == "abc-1"
