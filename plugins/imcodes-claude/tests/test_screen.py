"""The Claude Code screen detector over every recorded screen (golden), and the permission prompt parser."""

from collections.abc import Callable

import pytest
from imcodes_claude.screen import ClaudeScreenDetector, permission_prompt, resume_id

from imcodes_core.states import Observation, SessionState
from imcodes_core.testing.contracts import StateDetectorContract

GOLDEN = {
    "claude-idle-manual-mode": SessionState.IDLE,
    "claude-idle-auto-mode-fresh": SessionState.IDLE,
    "claude-idle-after-turn": SessionState.IDLE,
    "claude-working": SessionState.WORKING,
    "claude-permission-prompt-bash": SessionState.WAITING_PERMISSION,
    "claude-exited-after-slash-exit": SessionState.EXITED,
    "claude-startup-no-network-exited": SessionState.ERROR,
}


class TestClaudeScreenDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> ClaudeScreenDetector:
        return ClaudeScreenDetector()

    @pytest.fixture
    def golden_cases(self, screen: Callable[[str], str]) -> list[tuple[Observation, SessionState | None]]:
        cases: list[tuple[Observation, SessionState | None]] = [
            (Observation("claude", screen(name)), state) for name, state in GOLDEN.items()
        ]
        cases.append((Observation("claude", ""), None))  # nothing drawn yet: no opinion
        cases.append((Observation("claude", "some text the CLI never draws"), None))
        return cases


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_each_recorded_screen(name: str, screen: Callable[[str], str]) -> None:
    reading = ClaudeScreenDetector().read(Observation("claude", screen(name)))
    assert reading is not None and reading.state is GOLDEN[name], reading
    assert reading.evidence


def test_the_permission_prompt_is_parsed_with_its_question_and_choices(screen: Callable[[str], str]) -> None:
    prompt = permission_prompt(screen("claude-permission-prompt-bash"))
    assert prompt is not None
    assert prompt.question == "Do you want to proceed?"
    assert [c.key for c in prompt.choices] == ["1", "2", "3", "4"]
    assert prompt.choices[0].label == "Yes" and prompt.choices[0].selected
    assert prompt.choices[1].label.startswith("Yes, and always allow access to /home/dev/projects/claude2")
    assert prompt.choices[3].label == "No" and not prompt.choices[3].selected
    assert prompt.tool == "Bash command"
    assert prompt.detail == "echo fake-tool-ran > fake_tool_output.txt"
    reading = ClaudeScreenDetector().read(Observation("claude", screen("claude-permission-prompt-bash")))
    assert reading is not None and "Do you want to proceed?" in reading.evidence and "4. No" in reading.evidence


@pytest.mark.parametrize("name", sorted(set(GOLDEN) - {"claude-permission-prompt-bash"}))
def test_no_prompt_is_found_where_none_is_drawn(name: str, screen: Callable[[str], str]) -> None:
    assert permission_prompt(screen(name)) is None


def test_the_resume_id_is_read_from_the_exit_screen(screen: Callable[[str], str]) -> None:
    assert resume_id(screen("claude-exited-after-slash-exit")) == "e2d26fa1-6d70-4832-ae3b-de93bf04cf44"
    assert resume_id(screen("claude-idle-after-turn")) is None


def test_the_working_evidence_names_the_spinner(screen: Callable[[str], str]) -> None:
    reading = ClaudeScreenDetector().read(Observation("claude", screen("claude-working")))
    assert reading is not None and "Embellishing" in reading.evidence
