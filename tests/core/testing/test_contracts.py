"""The contract classes, subclassed for the built-ins and for small reference plugins, exactly as plugins do."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.builtins.screen import GenericScreenDetector, PaneLifeDetector
from imcodes_core.builtins.shell import ShellDriver
from imcodes_core.discussions import DiscussionState, DiscussionStep, Finished, Hop, Speak
from imcodes_core.notifications import Notification
from imcodes_core.states import Observation, SessionState
from imcodes_core.testing.agent import ScriptedAgent, ScriptedAgentDriver
from imcodes_core.testing.contracts import (
    AgentDriverContract,
    DiscussionModeContract,
    NotifierContract,
    StateDetectorContract,
)
from imcodes_core.testing.terminal import render_capture

SCREENS = Path(__file__).parent / "agent-screens"


def capture(name: str) -> Observation:
    return Observation("any", render_capture((SCREENS / f"{name}.ansi.txt").read_text(encoding="utf-8")))


class TestShellDriver(AgentDriverContract):
    @pytest.fixture
    def driver(self) -> ShellDriver:
        return ShellDriver()


class TestScriptedAgentDriver(AgentDriverContract):
    @pytest.fixture
    def driver(self, tmp_path: Path) -> ScriptedAgentDriver:
        return ScriptedAgentDriver(ScriptedAgent().write(tmp_path / "agent.json"), tmp_path / "events.jsonl")


class TestPaneLifeDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> PaneLifeDetector:
        return PaneLifeDetector()

    @pytest.fixture
    def golden_cases(self) -> list[tuple[Observation, SessionState | None]]:
        return [
            (Observation("shell", "$ ", pane_dead=True, exit_status=0), SessionState.EXITED),
            (Observation("claude", "", pane_dead=True, exit_status=None), SessionState.EXITED),
            (Observation("codex", "Error", pane_dead=True, exit_status=2), SessionState.ERROR),
            (Observation("shell", "$ "), None),  # a live pane: nothing to say
        ]


class TestGenericScreenDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> GenericScreenDetector:
        return GenericScreenDetector()

    @pytest.fixture
    def golden_cases(self) -> list[tuple[Observation, SessionState | None]]:
        return [
            (Observation("shell", ""), SessionState.STARTING),
            (Observation("shell", "dev@box:~/project$ ls\nREADME.md\ndev@box:~/project$ "), SessionState.IDLE),
            (Observation("shell", "$ python x.py\nTraceback (most recent call last):\n  boom"), SessionState.ERROR),
            (capture("claude-working"), SessionState.WORKING),
            (capture("claude-permission-prompt-bash"), SessionState.WAITING_PERMISSION),
            (capture("codex-working"), SessionState.WORKING),
            (capture("gemini-thinking"), SessionState.WORKING),
            (capture("gemini-tool-approval-shell"), SessionState.WAITING_PERMISSION),
            (capture("qwen-tool-approval-shell"), SessionState.WAITING_PERMISSION),
            (capture("opencode-permission-required-shell"), SessionState.WAITING_PERMISSION),
        ]


class RoundTable:
    """A reference mode: every participant answers in parallel, then the initiator sums up; at most two rounds."""

    name = "round-table"
    description = "Everyone answers, the initiator sums up."

    def next_step(self, state: DiscussionState) -> DiscussionStep:
        rounds = min(2, state.max_rounds)
        if state.round < rounds:
            earlier = "\n".join(f"{u.speaker}: {u.text}" for u in state.said_in(state.round)) or "(nothing yet)"
            prompt = f"Topic: {state.topic}\nRound {state.round + 1} of {rounds}. Earlier:\n{earlier}"
            return Speak(tuple(Hop(p, prompt) for p in state.participants), parallel=True, next_round=True)
        last_round = state.said_in(state.round)
        if len(last_round) > len(state.participants):  # everyone spoke, then the initiator summed up
            return Finished(outcome=last_round[-1].text or "(the initiator gave no summary)")
        said = "\n".join(f"{u.speaker}: {u.text}" for u in state.transcript)
        return Speak((Hop(state.initiator, f"Sum up the discussion of {state.topic!r}:\n{said}"),))


class TestRoundTableMode(DiscussionModeContract):
    @pytest.fixture
    def mode(self) -> RoundTable:
        return RoundTable()


class FileNotifier:
    """A reference notifier: appends each notification as a JSON line to a file."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def notify(self, notification: Notification) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(notification), ensure_ascii=False) + "\n")


class TestFileNotifier(NotifierContract):
    @pytest.fixture
    def notifier(self, tmp_path: Path) -> FileNotifier:
        return FileNotifier(tmp_path / "notifications.jsonl")

    @pytest.fixture
    def delivered(self, notifier: FileNotifier) -> Callable[[], list[Any]]:
        def lines() -> list[Any]:
            if not notifier.path.exists():
                return []
            return [json.loads(line) for line in notifier.path.read_text(encoding="utf-8").splitlines()]

        return lines


class TestFileNotifierWithoutDeliveredFixture(NotifierContract):
    """``delivered`` is optional: the contract still checks that every kind completes."""

    @pytest.fixture
    def notifier(self, tmp_path: Path) -> FileNotifier:
        return FileNotifier(tmp_path / "notifications.jsonl")
