"""The Codex screen detector over every recorded screen (golden), and the approval prompt parser."""

from collections.abc import Callable

import pytest
from imcodes_codex.screen import CodexScreenDetector, permission_prompt, resume_id

from imcodes_core.states import Observation, SessionState
from imcodes_core.testing.contracts import StateDetectorContract

S = SessionState
GOLDEN = {
    "codex-idle": S.IDLE,
    "codex-idle-fake-provider": S.IDLE,
    "codex-idle-after-turn": S.IDLE,
    "codex-after-injected-turn": S.IDLE,
    "codex-working": S.WORKING,
    "codex-working-reconnecting": S.WORKING,
    "codex-approval-prompt-exec": S.WAITING_PERMISSION,
    "codex-signin-picker": S.SETUP,
    "codex-signin-other-way": S.SETUP,
    "codex-apikey-entry": S.SETUP,
    "codex-trust-folder": S.SETUP,
    "codex-hooks-review-list": S.SETUP,
    "codex-warnings-panel": S.SETUP,
    "codex-exited-after-quit": S.EXITED,
    # captured from the real Codex 0.169.0 by tests/agents (see fixtures/README.md)
    "codex-streaming-answer": S.WORKING,
    "codex-working-hollow-spinner": S.WORKING,
    "codex-typing": S.IDLE,
    "codex-typing-slash-command": S.IDLE,
    "codex-interrupted": S.IDLE,  # by tests/agents/test_interrupt.py: Escape while an answer streamed
}


class TestCodexScreenDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> CodexScreenDetector:
        return CodexScreenDetector()

    @pytest.fixture
    def golden_cases(self, screen: Callable[[str], str]) -> list[tuple[Observation, SessionState | None]]:
        cases: list[tuple[Observation, SessionState | None]] = [
            (Observation("codex", screen(name)), state) for name, state in GOLDEN.items()
        ]
        cases += [(Observation("codex", ""), None), (Observation("codex", "unrelated output"), None)]
        return cases


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_each_recorded_screen(name: str, screen: Callable[[str], str]) -> None:
    reading = CodexScreenDetector().read(Observation("codex", screen(name)))
    assert reading is not None and reading.state is GOLDEN[name], reading


def test_the_approval_prompt_is_parsed_with_its_question_keys_and_choices(screen: Callable[[str], str]) -> None:
    prompt = permission_prompt(screen("codex-approval-prompt-exec"))
    assert prompt is not None
    assert prompt.question == "Would you like to run the following command?"
    assert [c.key for c in prompt.choices] == ["y", "p", "esc"]
    assert prompt.choices[0].label == "Yes, proceed" and prompt.choices[0].selected
    assert prompt.choices[2].label == "No, and tell Codex what to do differently"
    assert "$ echo fake-tool-ran > fake_tool_output.txt" in prompt.detail
    assert "Reason: Allow writing a marker file?" in prompt.detail


@pytest.mark.parametrize("name", sorted(set(GOLDEN) - {"codex-approval-prompt-exec"}))
def test_no_prompt_where_none_is_drawn(name: str, screen: Callable[[str], str]) -> None:
    assert permission_prompt(screen(name)) is None


def test_resume_id_and_working_evidence(screen: Callable[[str], str]) -> None:
    assert resume_id(screen("codex-exited-after-quit")) == "01a20d51-060a-72e3-9810-b279a0d8c6ba"
    reading = CodexScreenDetector().read(Observation("codex", screen("codex-working-reconnecting")))
    assert reading is not None and "Reconnecting... 3/5" in reading.evidence


def test_no_reading_while_the_box_hides_after_a_prompt_is_sent(screen: Callable[[str], str]) -> None:
    # captured from the real Codex 0.169.0: for a moment the prompt shows without input box or footer
    assert CodexScreenDetector().read(Observation("codex", screen("codex-prompt-just-sent"))) is None


def test_an_interrupted_turn_is_idle_surely_enough_to_outrank_the_prompts_hook(screen: Callable[[str], str]) -> None:
    reading = CodexScreenDetector().read(Observation("codex", screen("codex-interrupted")))
    assert reading is not None and reading.state is S.IDLE and reading.confidence >= 0.75
    assert "interrupted" in reading.evidence
