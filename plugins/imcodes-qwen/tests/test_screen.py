"""The Qwen Code screen detector over every recorded screen (golden), and the approval prompt parser."""

from collections.abc import Callable

import pytest
from imcodes_qwen.screen import QwenScreenDetector, permission_prompt

from imcodes_core.states import Observation, SessionState
from imcodes_core.testing.contracts import StateDetectorContract

S = SessionState
GOLDEN = {
    "qwen-idle-openai-compatible": S.IDLE,
    "qwen-idle-after-text-turn": S.IDLE,
    "qwen-idle-after-turn": S.IDLE,
    "qwen-tool-approval-shell": S.WAITING_PERMISSION,
    "qwen-provider-picker": S.SETUP,
    "qwen-provider-thirdparty-list": S.SETUP,
    # captured from the real Qwen Code 0.24.4 (see fixtures/README.md)
    "qwen-initializing": S.STARTING,
    "qwen-typing": S.IDLE,
    "qwen-typing-slash-command": S.IDLE,
    "qwen-working": S.WORKING,
    "qwen-queued": S.WORKING,
    "qwen-waiting-confirmation-status": S.WAITING_PERMISSION,
    "qwen-exit-summary": S.EXITED,
}


class TestQwenScreenDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> QwenScreenDetector:
        return QwenScreenDetector()

    @pytest.fixture
    def golden_cases(self, screen: Callable[[str], str]) -> list[tuple[Observation, SessionState | None]]:
        cases: list[tuple[Observation, SessionState | None]] = [
            (Observation("qwen", screen(name)), state) for name, state in GOLDEN.items()
        ]
        cases += [(Observation("qwen", ""), None), (Observation("qwen", "unrelated output"), None)]
        # The idle screen with an unknown spinner above the input box: no claim rather than a wrong "idle".
        idle = screen("qwen-idle-after-turn").splitlines()
        spinning = "\n".join([*idle[:-6], "  ⠋ Something unrecorded... (3s)", *idle[-6:]])
        cases.append((Observation("qwen", spinning), None))
        return cases


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_each_recorded_screen(name: str, screen: Callable[[str], str]) -> None:
    reading = QwenScreenDetector().read(Observation("qwen", screen(name)))
    assert reading is not None and reading.state is GOLDEN[name], reading


def test_the_approval_prompt_is_parsed(screen: Callable[[str], str]) -> None:
    prompt = permission_prompt(screen("qwen-tool-approval-shell"))
    assert prompt is not None
    assert prompt.question == "Allow execution of: 'echo'?"
    assert [c.key for c in prompt.choices] == ["1", "2", "3", "4"]
    assert prompt.choices[0].label == "Yes, allow once" and prompt.choices[0].selected
    assert prompt.choices[3].label == "No, suggest changes (esc)"
    assert prompt.tool == "Shell" and prompt.detail.startswith("echo fake-tool-ran > fake_tool_output.txt")


@pytest.mark.parametrize("name", sorted(set(GOLDEN) - {"qwen-tool-approval-shell"}))
def test_no_prompt_where_none_is_drawn(name: str, screen: Callable[[str], str]) -> None:
    assert permission_prompt(screen(name)) is None
