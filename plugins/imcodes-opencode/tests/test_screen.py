"""The OpenCode screen detector over every recorded screen (golden), and the permission prompt parser."""

from collections.abc import Callable

import pytest
from imcodes_opencode.screen import OpenCodeScreenDetector, permission_prompt

from imcodes_core.states import Observation, SessionState
from imcodes_core.testing.contracts import StateDetectorContract

S = SessionState
GOLDEN = {
    "opencode-idle-fake-provider": S.IDLE,
    "opencode-idle-no-provider": S.IDLE,
    "opencode-idle-after-turn": S.IDLE,
    "opencode-working-retrying": S.WORKING,
    "opencode-permission-required-shell": S.WAITING_PERMISSION,
    # captured from the real OpenCode 1.18.33 (see fixtures/README.md)
    "opencode-exit-summary": S.EXITED,
}


class TestOpenCodeScreenDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> OpenCodeScreenDetector:
        return OpenCodeScreenDetector()

    @pytest.fixture
    def golden_cases(self, screen: Callable[[str], str]) -> list[tuple[Observation, SessionState | None]]:
        cases: list[tuple[Observation, SessionState | None]] = [
            (Observation("opencode", screen(name)), state) for name, state in GOLDEN.items()
        ]
        cases += [(Observation("opencode", ""), None), (Observation("opencode", "unrelated output"), None)]
        cases.append(
            (Observation("opencode", screen("opencode-idle-after-turn") + "\nPane is dead (status 0, x)"), S.EXITED)
        )
        return cases


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_each_recorded_screen(name: str, screen: Callable[[str], str]) -> None:
    reading = OpenCodeScreenDetector().read(Observation("opencode", screen(name)))
    assert reading is not None and reading.state is GOLDEN[name], reading


def test_the_permission_prompt_is_parsed(screen: Callable[[str], str]) -> None:
    prompt = permission_prompt(screen("opencode-permission-required-shell"))
    assert prompt is not None
    assert prompt.shown == ("Allow once", "Allow always", "Reject")
    assert [(c.key, c.label) for c in prompt.choices] == [("enter", "Allow once"), ("esc", "Reject")]
    assert (prompt.tool, prompt.detail) == ("Shell command", "echo fake-tool-ran > fake_tool_output.txt")


@pytest.mark.parametrize("name", sorted(set(GOLDEN) - {"opencode-permission-required-shell"}))
def test_no_prompt_where_none_is_drawn(name: str, screen: Callable[[str], str]) -> None:
    assert permission_prompt(screen(name)) is None
