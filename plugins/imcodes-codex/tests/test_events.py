"""The Codex event detector over the recorded hooks and notify calls, merged in time order (golden)."""

from collections.abc import Callable
from typing import Any

import pytest
from imcodes_codex.events import CodexEventDetector, hook_event, notify_event

from imcodes_core.states import AgentEvent, Observation, SessionState
from imcodes_core.testing.contracts import StateDetectorContract

S = SessionState
# Each Codex thread that ran with hooks, as the daemon would see it: its hooks plus every notify call made while
# it ran (title requests on other threads included). The state after each event:
WINDOWS = {
    "01a20d51-060a": [S.IDLE, S.WORKING, S.WORKING, S.WAITING_PERMISSION,
                      S.WAITING_PERMISSION,  # the title request's notify must not end the wait
                      S.WORKING, S.IDLE, S.IDLE, S.EXITED],
    "01a20d53-eec9": [S.IDLE, S.WORKING, S.IDLE, S.IDLE, S.IDLE, S.WORKING, S.WORKING, S.WAITING_PERMISSION,
                      S.WAITING_PERMISSION, S.WORKING, S.IDLE, S.IDLE, S.WORKING, S.IDLE, S.IDLE, S.IDLE],
}  # fmt: skip


def all_events(jsonl: Callable[[str], list[dict[str, Any]]]) -> list[AgentEvent]:
    events = [hook_event(r["payload"], r["t"]) for r in jsonl("codex-hooks.jsonl")]
    events += [notify_event(r["payload"], r["t"]) for r in jsonl("codex-notify.jsonl")]
    return sorted(events, key=lambda e: e.at)


def window(events: list[AgentEvent], thread: str) -> list[AgentEvent]:
    own = [e.at for e in events if str(e.data.get("session_id", "")).startswith(thread)]
    return [e for e in events if min(own) <= e.at <= max(own) + 0.1]


class TestCodexEventDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> CodexEventDetector:
        return CodexEventDetector()

    @pytest.fixture
    def golden_cases(
        self, jsonl: Callable[[str], list[dict[str, Any]]]
    ) -> list[tuple[Observation, SessionState | None]]:
        events = all_events(jsonl)
        cases: list[tuple[Observation, SessionState | None]] = []
        for thread, states in WINDOWS.items():
            seen = window(events, thread)
            assert len(seen) == len(states), thread
            cases += [(Observation("codex", events=tuple(seen[:n])), s) for n, s in enumerate(states, start=1)]
        return cases


def test_notify_alone_reads_real_turns_and_ignores_title_requests(
    jsonl: Callable[[str], list[dict[str, Any]]],
) -> None:
    detector = CodexEventDetector()
    for record in jsonl("codex-notify.jsonl"):
        reading = detector.read(Observation("codex", events=(notify_event(record["payload"], record["t"]),)))
        is_title = record["payload"]["input-messages"][-1].startswith("Generate a concise")
        if is_title:
            assert reading is None
        else:
            assert reading is not None and reading.state is S.IDLE
            assert record["payload"]["last-assistant-message"][:20] in reading.evidence


def test_a_lone_session_end_reads_exited(jsonl: Callable[[str], list[dict[str, Any]]]) -> None:
    (record,) = [r for r in jsonl("codex-hooks.jsonl") if r["payload"]["session_id"].startswith("01a20d52-14f7")]
    reading = CodexEventDetector().read(Observation("codex", events=(hook_event(record["payload"], record["t"]),)))
    assert reading is not None and reading.state is S.EXITED
