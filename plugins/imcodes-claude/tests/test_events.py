"""The Claude Code event detector over the recorded hook payloads and session status snapshots (golden)."""

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from imcodes_claude.events import ClaudeEventDetector, hook_event, status_event

from imcodes_core.states import AgentEvent, Observation, SessionState, SignalSource, WorkDetail
from imcodes_core.testing.contracts import StateDetectorContract

S = SessionState
# The state after each recorded hook event, per Claude session (events replayed in the recorded order).
HOOK_STATES = {
    "e2d26fa1": [S.IDLE, S.WORKING, S.WORKING, S.IDLE, S.WORKING, S.WORKING, S.WAITING_PERMISSION,
                 S.WAITING_PERMISSION, S.WORKING, S.WORKING, S.WORKING, S.IDLE, S.WORKING, S.WORKING, S.IDLE,
                 S.IDLE, S.EXITED],
    "162c654c": [S.IDLE, S.WORKING, S.WORKING, S.IDLE, S.EXITED],
    "befed2ec": [S.IDLE, S.WORKING, S.WORKING, S.IDLE, S.EXITED],
    "9568fb62": [S.IDLE, S.WORKING, S.WORKING, S.IDLE, S.EXITED],
    "1b661a79": [S.IDLE, S.WORKING, S.WORKING, S.WAITING_PERMISSION, S.WORKING, S.WORKING, S.WORKING, S.IDLE,
                 S.EXITED],
    "18b91e4f": [S.IDLE, S.WORKING, S.WORKING, S.WAITING_PERMISSION, S.WORKING, S.WORKING, S.WORKING, S.IDLE,
                 S.EXITED],
}  # fmt: skip
STATUS_STATES = {
    "e2d26fa1": [S.STARTING, S.IDLE, S.WORKING, S.IDLE, S.WORKING, S.WAITING_PERMISSION, S.WORKING, S.IDLE,
                 S.WORKING, S.IDLE],
    "162c654c": [S.IDLE, S.WORKING, S.IDLE],
    "befed2ec": [S.STARTING, S.WORKING],
    "9568fb62": [S.IDLE, S.WORKING],
    "1b661a79": [S.WORKING, S.WORKING],
    "18b91e4f": [S.STARTING, S.WORKING],
}  # fmt: skip


def hook_sessions(records: list[dict[str, Any]]) -> dict[str, list[AgentEvent]]:
    sessions: dict[str, list[AgentEvent]] = defaultdict(list)
    for record in records:
        payload = record["payload"]
        assert payload["hook_event_name"] == record["event"]
        sessions[payload["session_id"][:8]].append(hook_event(payload, record["t"]))
    return dict(sessions)


def status_sessions(records: list[dict[str, Any]]) -> dict[str, list[AgentEvent]]:
    sessions: dict[str, list[AgentEvent]] = defaultdict(list)
    for record in records:
        sessions[record["content"]["sessionId"][:8]].append(
            status_event(record["content"], record["file"], record["t"])
        )
    return dict(sessions)


def replay(
    sessions: dict[str, list[AgentEvent]], expected: dict[str, list[SessionState]]
) -> list[tuple[Observation, SessionState | None]]:
    assert sessions.keys() == expected.keys()
    cases: list[tuple[Observation, SessionState | None]] = []
    for session, events in sessions.items():
        assert len(events) == len(expected[session]), session
        for count, state in enumerate(expected[session], start=1):
            cases.append((Observation("claude", events=tuple(events[:count])), state))
    return cases


class TestClaudeEventDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> ClaudeEventDetector:
        return ClaudeEventDetector()

    @pytest.fixture
    def golden_cases(
        self, jsonl: Callable[[str], list[dict[str, Any]]]
    ) -> list[tuple[Observation, SessionState | None]]:
        cases = replay(hook_sessions(jsonl("claude-hooks.jsonl")), HOOK_STATES)
        cases += replay(status_sessions(jsonl("claude-session-status.jsonl")), STATUS_STATES)
        cases.append((Observation("claude"), None))  # no event yet: no opinion
        return cases


def test_every_recorded_hook_event_is_known_or_deliberately_ignored(
    jsonl: Callable[[str], list[dict[str, Any]]],
) -> None:
    detector = ClaudeEventDetector()
    kinds = {record["event"] for record in jsonl("claude-hooks.jsonl")}
    silent = {k for k in kinds if detector.read(Observation("claude", events=(AgentEvent(k, 0.0, {}),))) is None}
    assert silent == {"Notification"}  # a Notification without a known notification_type says nothing


def test_the_permission_request_carries_the_tool_and_command(jsonl: Callable[[str], list[dict[str, Any]]]) -> None:
    events = hook_sessions(jsonl("claude-hooks.jsonl"))["1b661a79"]
    reading = ClaudeEventDetector().read(Observation("claude", events=tuple(events[:4])))
    assert reading is not None and reading.state is S.WAITING_PERMISSION
    assert reading.source is SignalSource.STRUCTURED
    assert "Bash" in reading.evidence and "echo fake-tool-ran > fake_tool_output.txt" in reading.evidence


def test_working_detail_follows_the_hooks(jsonl: Callable[[str], list[dict[str, Any]]]) -> None:
    events = hook_sessions(jsonl("claude-hooks.jsonl"))["1b661a79"]
    details = [ClaudeEventDetector().read(Observation("claude", events=tuple(events[:n]))) for n in (2, 3, 7)]
    assert [r.detail for r in details if r] == [WorkDetail.THINKING, WorkDetail.TOOL_RUNNING, WorkDetail.STREAMING]
