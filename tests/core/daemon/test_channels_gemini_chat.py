"""Gemini CLI's final answer for ``assistant.final``: from its own chat file, else ``prompt_response`` cleaned.

The chat file is a real one (``gemini-chat-tool-turn.jsonl``, written by Gemini CLI 0.61.0 during the real-CLI
hook test); the ``prompt_response`` strings are the ones the real CLI sent with the same turns.
"""

from __future__ import annotations

import json
from pathlib import Path

from imcodes_core.daemon.channels import EventChannel
from imcodes_core.daemon.gemini_chat import deduplicated_response, last_gemini_text
from imcodes_core.states import AgentEvent

ROOT = Path(__file__).resolve().parents[3]
CHAT = ROOT / "plugins/imcodes-gemini/tests/fixtures/gemini-chat-tool-turn.jsonl"
# What the real AfterAgent hook carried for the turn in CHAT (the intro before the tool, and repeated chunks)
PROMPT_RESPONSE = (
    "I will run a shell command. will  run  a  shell  command. \nThe command ran. FAKE_TOOL_DONE command  ran.  "
    "FAKE_TOOL_DONE"
)
ANSWER = "The command ran. FAKE_TOOL_DONE"


def chat_lines() -> list[str]:
    return CHAT.read_text(encoding="utf-8").splitlines()


def message(identifier: str, kind: str, content: object) -> str:
    return json.dumps({"id": identifier, "timestamp": "2026-11-28T17:27:07.114Z", "type": kind, "content": content})


def test_the_answer_after_the_tool_result_is_read_from_the_real_chat_file() -> None:
    assert last_gemini_text(str(CHAT)) == ANSWER


def test_a_later_record_of_a_message_replaces_it_and_a_rewind_drops_messages(tmp_path: Path) -> None:
    chat = tmp_path / "session.jsonl"
    lines = chat_lines()
    lines += [message("u2", "user", [{"text": "again"}]), message("g2", "gemini", "Partial")]
    lines += [json.dumps({"$set": {"lastUpdated": "x"}}), message("g2", "gemini", "Second answer.")]
    chat.write_text("\n".join(lines) + "\n")
    assert last_gemini_text(str(chat)) == "Second answer."
    chat.write_text("\n".join([*lines, json.dumps({"$rewindTo": "u2"})]) + "\n")
    assert last_gemini_text(str(chat)) == ANSWER  # the rewound turn is gone: the earlier answer is the last one


def test_parts_lists_and_set_message_lists_are_understood(tmp_path: Path) -> None:
    chat = tmp_path / "session.jsonl"
    parts = [{"text": "thinking", "thought": True}, {"text": "Answer "}, {"text": "in parts."}]
    listed = [json.loads(message("u1", "user", "q")), json.loads(message("g1", "gemini", parts))]
    chat.write_text(json.dumps({"$set": {"messages": listed}}) + "\n" + message("i1", "info", "Resumed") + "\n")
    assert last_gemini_text(str(chat)) == "Answer in parts."


def test_only_the_tail_is_read_and_other_files_give_nothing(tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    padding = [message(f"g{n}", "gemini", "x" * 1000) for n in range(60)]
    big.write_text("\n".join([*padding, *chat_lines()]) + "\n")
    assert last_gemini_text(str(big), tail_bytes=8192) == ANSWER
    assert last_gemini_text(str(tmp_path / "missing.jsonl")) == ""
    legacy = tmp_path / "session.json"  # older Gemini CLIs wrote one JSON document: not read
    legacy.write_text(CHAT.read_text())
    assert last_gemini_text(str(legacy)) == ""
    assert last_gemini_text("") == ""


def test_prompt_response_loses_the_repeated_chunks_and_keeps_real_text() -> None:
    assert deduplicated_response(PROMPT_RESPONSE) == "I will run a shell command.\n" + ANSWER
    recorded = "Hello from the fake model. FAKE_OK the fake model.  FAKE_OK"  # agent-events/gemini-hooks.jsonl
    assert deduplicated_response(recorded) == "Hello from the fake model. FAKE_OK"
    for untouched in ("Done.", "yes yes", "It is what it is.", "No, no.\nSecond line"):
        assert deduplicated_response(untouched) == untouched


def test_after_agent_takes_the_chat_file_over_prompt_response(tmp_path: Path) -> None:
    channel = EventChannel(tmp_path / "events.sock", lambda _name: None)

    def final(payload: dict[str, object]) -> list[object]:
        event = AgentEvent("AfterAgent", 0.0, {"hook_event_name": "AfterAgent", **payload})
        return [data["text"] for kind, data in channel.gemini_chat_events("s", event) if kind == "assistant.final"]

    assert final({"transcript_path": str(CHAT), "prompt_response": PROMPT_RESPONSE}) == [ANSWER]
    gone = str(tmp_path / "gone.jsonl")
    assert final({"transcript_path": gone, "prompt_response": PROMPT_RESPONSE}) == [
        f"I will run a shell command.\n{ANSWER}"
    ]
    assert final({"transcript_path": gone, "prompt_response": ""}) == []
