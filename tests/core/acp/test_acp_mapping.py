"""The event mapper against every line of the recorded ACP sessions of real CLIs (gemini 0.61.0, qwen 0.24.4,
opencode 1.18.33; copied from ../shared/fixtures/agent-events), and against the update kinds they did not send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.acp import AcpEventMapper, PermissionRequest
from imcodes_core.states import AgentEvent, SessionState, SignalSource, WorkDetail

FIXTURES = Path(__file__).parent / "fixtures"
S = SessionState


def replay(name: str) -> tuple[list[AgentEvent], AcpEventMapper, int]:
    """Feed every recorded line to a mapper the way AcpSession does; returns events, mapper, lines consumed.

    Each line is accounted for: a line the replay does not know fails the test, so a new kind of message in a
    re-recorded fixture is noticed.
    """
    mapper = AcpEventMapper()
    events: list[AgentEvent] = []
    requests: dict[Any, str] = {}  # our request ids -> method
    permissions: dict[Any, PermissionRequest] = {}
    consumed = 0
    for number, line in enumerate((FIXTURES / name).read_text(encoding="utf-8").splitlines(), 1):
        entry = json.loads(line)
        direction, msg = entry["dir"], entry["msg"]
        at = float(number)
        method = msg.get("method")
        if direction == "client->agent" and method:
            requests[msg["id"]] = method
            if method == "session/prompt":
                text = "".join(block["text"] for block in msg["params"]["prompt"])
                events += mapper.prompt_sent(at, text)
        elif direction == "client->agent":  # our answer to the agent's request
            if msg["id"] in permissions:
                outcome = msg["result"]["outcome"]
                option = outcome.get("optionId") if outcome["outcome"] == "selected" else None
                events += mapper.permission_answered(at, msg["id"], permissions.pop(msg["id"]), option)
            else:
                assert "error" in msg, f"{name}:{number}: unexpected answer {msg}"
        elif method == "session/update":
            events += mapper.session_update(at, msg["params"])
        elif method == "session/request_permission":
            permissions[msg["id"]] = PermissionRequest.from_params(msg["params"])
            events += mapper.permission_requested(at, msg["id"], permissions[msg["id"]])
        elif method is not None:
            assert method == "craft/drainMidTurnQueue", f"{name}:{number}: unknown agent request {method}"
        elif requests.get(msg["id"]) == "session/new":
            events += mapper.ready(at)
        elif requests.get(msg["id"]) == "session/prompt":
            events += mapper.turn_ended(at, msg["result"]["stopReason"])
        else:
            assert requests.get(msg["id"]) == "initialize", f"{name}:{number}: unmatched response {msg}"
        consumed += 1
    return events, mapper, consumed


def states(events: list[AgentEvent]) -> list[str]:
    return [e.data["state"] for e in events if e.kind == "state.changed"]


def kinds(events: list[AgentEvent], *wanted: str) -> list[str]:
    return [e.kind for e in events if e.kind in wanted]


@pytest.mark.parametrize(
    ("name", "lines"), [("acp-gemini.jsonl", 12), ("acp-qwen.jsonl", 17), ("acp-opencode.jsonl", 15)]
)
def test_recorded_session_maps_to_a_full_approved_turn(name: str, lines: int) -> None:
    events, mapper, consumed = replay(name)
    assert consumed == lines

    assert mapper.state is S.IDLE
    assert mapper.reading.evidence == "session/prompt answered: stopReason end_turn"
    assert mapper.reading.source is SignalSource.STRUCTURED
    trail = states(events)
    assert trail[0] == "idle"
    assert trail[-1] == "idle"
    wait = trail.index("waiting_permission")
    assert "working" in trail[:wait] and "working" in trail[wait:]

    assert [e.data["text"] for e in events if e.kind == "user.prompt"] == ["please RUNTOOL"]
    deltas = "".join(e.data["text"] for e in events if e.kind == "assistant.delta")
    assert deltas == "Tool finished. FAKE_TOOL_DONE"
    (final,) = [e for e in events if e.kind == "assistant.final"]
    assert final.data == {"text": "Tool finished. FAKE_TOOL_DONE", "stop_reason": "end_turn"}
    assert events[-2].kind == "turn.ended" and events[-1].kind == "state.changed"

    (asked,) = [e for e in events if e.kind == "permission.requested"]
    assert "echo fake-tool-ran > fake_tool_output.txt" in asked.data["title"]
    assert asked.data["tool_kind"] == "execute"
    assert {o["kind"] for o in asked.data["options"]} >= {"allow_once", "reject_once"}
    (answered,) = [e for e in events if e.kind == "permission.answered"]
    assert answered.data["outcome"] == "selected"
    assert answered.data["tool_call_id"] == asked.data["tool_call_id"]
    (result,) = [e for e in events if e.kind == "tool.result"]
    assert result.data["tool_call_id"] == asked.data["tool_call_id"]
    assert result.data["ok"] is True and result.data["status"] == "completed"
    # the question comes before the answer, the answer before the result, the result before the final text
    order = [e.kind for e in events]
    assert order.index("permission.requested") < order.index("permission.answered") < order.index("tool.result")
    assert order.index("tool.result") < order.index("assistant.final")
    assert "commands.available" in order
    assert "acp.update" not in order  # every update kind the real CLIs sent is known


def test_recorded_tool_calls_keep_their_title_and_input() -> None:
    events, _, _ = replay("acp-opencode.jsonl")
    (call,) = [e for e in events if e.kind == "tool.call"]
    assert call.data["title"] == "bash" and call.data["status"] == "pending"
    assert call.data["locations"] == ["/home/dev/projects/opencode2"]
    updates = [e for e in events if e.kind == "tool.update"]
    assert [u.data["status"] for u in updates] == ["in_progress", "in_progress"]
    (result,) = [e for e in events if e.kind == "tool.result"]
    assert result.data["title"] == "echo fake-tool-ran > fake_tool_output.txt"  # the latest title wins
    assert result.data["output"] == "(no output)"


def test_recorded_qwen_empty_usage_chunks_are_not_text() -> None:
    events, _, _ = replay("acp-qwen.jsonl")
    assert all(e.data["text"] for e in events if e.kind == "assistant.delta")
    (result,) = [e for e in events if e.kind == "tool.result"]
    assert "Exit Code: 0" in result.data["output"]


def test_permission_request_from_recorded_params() -> None:
    line = (FIXTURES / "acp-gemini.jsonl").read_text(encoding="utf-8").splitlines()[6]
    request = PermissionRequest.from_params(json.loads(line)["msg"]["params"])
    assert [o.id for o in request.options] == ["proceed_always", "proceed_once", "cancel"]
    assert request.first_option("allow_once") is not None
    assert request.first_option("allow_once").id == "proceed_once"  # type: ignore[union-attr]
    assert request.first_option("reject_always", "reject_once").id == "cancel"  # type: ignore[union-attr]
    assert request.option("nope") is None
    assert "(Write a marker file)" in request.details


def update(kind: str, **fields: Any) -> dict[str, Any]:
    return {"sessionId": "s", "update": {"sessionUpdate": kind, **fields}}


def test_thinking_plan_user_and_unknown_updates() -> None:
    mapper = AcpEventMapper()
    mapper.ready(0)
    mapper.prompt_sent(1, "hi")
    thought = mapper.session_update(2, update("agent_thought_chunk", content={"type": "text", "text": "hmm"}))
    assert [e.kind for e in thought] == ["thinking"]  # already working/thinking since the prompt: no state change
    assert thought[0].data == {"text": "hmm"}
    chunk = mapper.session_update(3, update("agent_message_chunk", content={"type": "text", "text": "a"}))
    assert [e.kind for e in chunk] == ["assistant.delta", "state.changed"]
    assert mapper.reading.detail is WorkDetail.STREAMING
    thought = mapper.session_update(4, update("agent_thought_chunk", content={"type": "text", "text": "more"}))
    assert [e.kind for e in thought] == ["thinking", "state.changed"]
    entries = [{"content": "step 1", "status": "pending", "priority": "high"}]
    (plan,) = mapper.session_update(5, update("plan", entries=entries))
    assert plan.kind == "plan" and plan.data["entries"] == entries
    (user,) = mapper.session_update(6, update("user_message_chunk", content={"type": "text", "text": "earlier"}))
    assert user.kind == "user.delta" and user.data["text"] == "earlier"
    (mode,) = mapper.session_update(7, update("current_mode_update", currentModeId="plan"))
    assert mode.kind == "mode.changed" and mode.data["mode"] == "plan"
    (unknown,) = mapper.session_update(8, update("brand_new_thing", x=1))
    assert unknown.kind == "acp.update" and unknown.data == {"session_update": "brand_new_thing"}
    final = mapper.turn_ended(9, "max_tokens")
    assert final[0].data == {"text": "a", "stop_reason": "max_tokens"}


def test_failed_tool_and_updates_while_a_question_is_open() -> None:
    mapper = AcpEventMapper()
    mapper.ready(0)
    mapper.prompt_sent(1, "go")
    options = [{"optionId": "y", "name": "Yes", "kind": "allow_once"}]
    request = PermissionRequest.from_params({"sessionId": "s", "toolCall": {"toolCallId": "t1"}, "options": options})
    mapper.permission_requested(2, 7, request)
    # the agent keeps streaming while it waits: the session still waits for the human
    mapper.session_update(3, update("tool_call_update", toolCallId="t1", status="in_progress"))
    assert mapper.state is S.WAITING_PERMISSION
    answered = mapper.permission_answered(4, 7, request, None)
    assert answered[0].data["outcome"] == "cancelled" and answered[0].data["option_id"] is None
    assert mapper.state is S.WORKING and mapper.reading.detail is WorkDetail.THINKING
    failed = mapper.session_update(5, update("tool_call_update", toolCallId="t1", status="failed", content=[]))
    assert failed[0].kind == "tool.result" and failed[0].data["ok"] is False


def test_exit_states_carry_their_evidence() -> None:
    clean = AcpEventMapper()
    clean.ready(0)
    (event,) = clean.exited(1, 0, expected=True)
    assert clean.state is S.EXITED and clean.reading.source is SignalSource.PROCESS
    assert event.data["evidence"] == "agent process exited with status 0"

    crashed = AcpEventMapper()
    crashed.ready(0)
    crashed.prompt_sent(1, "go")
    error, changed = crashed.exited(2, 3, expected=False, stderr_tail="starting\nFatal: out of cheese\n")
    assert crashed.state is S.ERROR
    assert (
        error.kind == "error" and error.data["message"] == "agent process exited with status 3: Fatal: out of cheese"
    )
    assert changed.data["state"] == "error" and changed.data["source"] == "process"

    failed = AcpEventMapper()
    failed.ready(0)
    failed.prompt_sent(1, "go")
    events = failed.turn_failed(2, "Invalid API key")
    assert [e.kind for e in events] == ["error", "state.changed"]
    assert failed.state is S.ERROR and "Invalid API key" in failed.reading.evidence
