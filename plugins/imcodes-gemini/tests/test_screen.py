"""The Gemini CLI screen detector over every recorded screen (golden), and the approval prompt parser."""

from collections.abc import Callable

import pytest
from imcodes_gemini.screen import GeminiScreenDetector, permission_prompt, resume_id

from imcodes_core.states import Observation, SessionState
from imcodes_core.testing.contracts import StateDetectorContract

S = SessionState
GOLDEN = {
    "gemini-idle": S.IDLE,
    "gemini-idle-authenticated": S.IDLE,
    "gemini-idle-after-turn": S.IDLE,
    "gemini-thinking": S.WORKING,
    "gemini-thinking-fake": S.WORKING,
    "gemini-tool-approval-shell": S.WAITING_PERMISSION,
    "gemini-auth-picker": S.SETUP,
    "gemini-apikey-entry": S.SETUP,
    "gemini-trust-folder": S.SETUP,
    "gemini-exit-summary": S.EXITED,
    # captured from the real Gemini CLI 0.61.0 (see fixtures/README.md)
    "gemini-typing": S.IDLE,
    "gemini-initializing": S.STARTING,
    "gemini-queued-while-initializing": S.WORKING,
}


class TestGeminiScreenDetector(StateDetectorContract):
    @pytest.fixture
    def detector(self) -> GeminiScreenDetector:
        return GeminiScreenDetector()

    @pytest.fixture
    def golden_cases(self, screen: Callable[[str], str]) -> list[tuple[Observation, SessionState | None]]:
        cases: list[tuple[Observation, SessionState | None]] = [
            (Observation("gemini", screen(name)), state) for name, state in GOLDEN.items()
        ]
        cases += [(Observation("gemini", ""), None), (Observation("gemini", "unrelated output"), None)]
        return cases


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_each_recorded_screen(name: str, screen: Callable[[str], str]) -> None:
    reading = GeminiScreenDetector().read(Observation("gemini", screen(name)))
    assert reading is not None and reading.state is GOLDEN[name], reading


def test_the_approval_prompt_is_parsed_out_of_its_box(screen: Callable[[str], str]) -> None:
    prompt = permission_prompt(screen("gemini-tool-approval-shell"))
    assert prompt is not None
    assert prompt.question == "Allow execution of [Shell]?"
    assert [(c.key, c.label, c.selected) for c in prompt.choices] == [
        ("1", "Allow once", True),
        ("2", "Allow for this session", False),
        ("3", "No, suggest changes (esc)", False),
    ]
    assert (prompt.tool, prompt.detail) == ("Shell", "echo fake-tool-ran > fake_tool_output.txt")


@pytest.mark.parametrize("name", sorted(set(GOLDEN) - {"gemini-tool-approval-shell"}))
def test_no_prompt_where_none_is_drawn(name: str, screen: Callable[[str], str]) -> None:
    assert permission_prompt(screen(name)) is None


def test_resume_id_from_the_exit_summary(screen: Callable[[str], str]) -> None:
    assert resume_id(screen("gemini-exit-summary")) == "73d7f6ea-fc95-4b06-a28a-5f2d34503c4c"


def test_hooks_running_say_nothing_about_the_state() -> None:
    """Seen through the daemon: Gemini fires the permission Notification hook while its status line still says
    "Executing Hooks"; read as working, that screen outranked the hook (newer) and flipped waiting back to working.
    """
    bar = "▄" * 40, "> Type your message or @path/to/file", "▀" * 40
    hooks = "⠏ Executing Hooks: imcodes, imcodes, imcodes, imcodes (esc to cancel, 0s)"
    assert GeminiScreenDetector().read(Observation("gemini", "\n".join([hooks, *bar]))) is None
    one_hook = "⠸ Executing Hook: imcodes (esc to cancel, 0s)"  # seen through the daemon with one hook running
    assert GeminiScreenDetector().read(Observation("gemini", "\n".join([one_hook, *bar]))) is None
    pending = ["╭" + "─" * 30 + "╮", "│ o  Shell sleep 1 && touch out.txt │", "╰" + "─" * 30 + "╯"]
    assert GeminiScreenDetector().read(Observation("gemini", "\n".join([*pending, hooks, *bar]))) is None


def test_hooks_running_after_an_approved_tool_started_are_working() -> None:
    """Seen through the daemon: after "Allow once" the tool's box shows ⊷/⊶ (executing) while the AfterTool hook
    runs ("Executing Hook: imcodes"); silence there let the older permission Notification win again."""
    bar = "▄" * 40, "> Type your message or @path/to/file", "▀" * 40
    for glyph in "⊷⊶":
        box = [
            "╭" + "─" * 40 + "╮",
            f"│ {glyph}  Shell sleep 1 && touch fake_tool_output.txt │",
            "╰" + "─" * 40 + "╯",
        ]
        hook = "⠼ Executing Hook: imcodes (esc to cancel, 1s)"
        reading = GeminiScreenDetector().read(Observation("gemini", "\n".join([*box, hook, *bar])))
        assert reading is not None and reading.state is S.WORKING, reading
        assert reading.evidence == "tool running: Shell sleep 1 && touch fake_tool_output.txt"
    thinking = "⠏ Thinking about it (esc to cancel, 3s)"
    reading = GeminiScreenDetector().read(Observation("gemini", "\n".join([thinking, *bar])))
    assert reading is not None and reading.state is S.WORKING
