"""FakeTerminal: escape handling, and recorded captures of the real agent CLIs render to their plain text."""

from __future__ import annotations

from pathlib import Path

import pytest

from imcodes_core.testing.terminal import FakeTerminal, render_capture

SCREENS = Path(__file__).parent / "agent-screens"
CAPTURES = sorted(SCREENS.glob("*.ansi.txt"))


def trimmed(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def test_there_are_captures_to_check() -> None:
    assert len(CAPTURES) >= 40


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name.removesuffix(".ansi.txt"))
def test_ansi_capture_renders_like_the_plain_capture(capture: Path) -> None:
    plain = capture.with_name(capture.name.replace(".ansi.txt", ".txt")).read_text(encoding="utf-8")
    rendered = render_capture(capture.read_text(encoding="utf-8"))
    assert trimmed(rendered) == trimmed(plain)


def test_carriage_return_overwrites_and_spinner_frames_leave_the_last() -> None:
    term = FakeTerminal(20, 3)
    term.feed("⠋ Working\r⠙ Working\r\x1b[2K> ")
    assert term.screen_text() == ">"
    assert (term.cursor_row, term.cursor_col) == (0, 2)


def test_lf_returns_by_default_and_not_in_strict_mode() -> None:
    term = FakeTerminal(10, 3)
    term.feed("ab\ncd")
    assert term.lines()[:2] == ["ab", "cd"]
    strict = FakeTerminal(10, 3, lf_returns=False)
    strict.feed("ab\ncd")
    assert strict.lines()[:2] == ["ab", "  cd"]


def test_backspace_tab_and_bytes_split_inside_utf8_and_escapes() -> None:
    term = FakeTerminal(20, 2)
    data = "ab\bX\tY é\x1b[31mred\x1b[0m".encode()
    for byte in data:  # one byte at a time: multi-byte characters and CSI sequences arrive split
        term.feed(bytes([byte]))
    assert term.lines()[0] == "aX      Y éred"


def test_cursor_positioning_and_erase() -> None:
    term = FakeTerminal(10, 4)
    term.feed("1111111111\r\n2222222222\r\n3333333333")
    term.feed("\x1b[2;3H\x1b[K")  # row 2, column 3: erase to the end of the line
    term.feed("\x1b[1;5H\x1b[1K")  # erase the start of row 1 up to column 5
    term.feed("\x1b[3;1H\x1b[2C\x1b[3X")  # erase three characters at column 3 of row 3
    assert term.lines() == ["     11111", "22", "33   33333", ""]
    term.feed("\x1b[2J")
    assert term.screen_text() == ""


def test_relative_moves_clamp_at_the_edges() -> None:
    term = FakeTerminal(5, 3)
    term.feed("\x1b[10A\x1b[10DX\x1b[10B\x1b[10CY")
    assert term.lines() == ["X", "", "    Y"]


def test_wrap_and_scroll() -> None:
    term = FakeTerminal(4, 2)
    term.feed("abcdefgh")  # fills both rows exactly: no scroll until the next character
    assert term.lines() == ["abcd", "efgh"]
    term.feed("i")
    assert term.lines() == ["efgh", "i"]


def test_wide_characters_take_two_cells() -> None:
    term = FakeTerminal(6, 2)
    term.feed("日本語x")
    assert term.lines() == ["日本語", "x"]


def test_insert_delete_characters_and_lines_and_scroll_region() -> None:
    term = FakeTerminal(6, 4)
    term.feed("abcdef\x1b[1;2H\x1b[2P")  # delete "bc"
    assert term.lines()[0] == "adef"
    term.feed("\x1b[1;2H\x1b[2@")  # insert two blanks
    assert term.lines()[0] == "a  def"
    term.feed("\x1b[2;1Hrow2\x1b[3;1Hrow3\x1b[4;1Hrow4\x1b[2;1H\x1b[L")
    assert term.lines() == ["a  def", "", "row2", "row3"]
    term.feed("\x1b[M")
    assert term.lines() == ["a  def", "row2", "row3", ""]
    term.feed("\x1b[2;3r\x1b[3;1H\n")  # region rows 2-3: LF at its bottom scrolls only the region
    assert term.lines() == ["a  def", "row3", "", ""]


def test_alternate_screen_is_restored_and_osc_titles_ignored() -> None:
    term = FakeTerminal(10, 2)
    term.feed("main\x1b]0;a title\x07")
    term.feed("\x1b[?1049h\x1b[Halt")
    assert term.lines()[0] == "alt"
    term.feed("\x1b[?1049l")
    assert term.lines()[0] == "main"


def test_save_restore_cursor_and_reverse_index() -> None:
    term = FakeTerminal(10, 3)
    term.feed("\x1b7abc\x1b8X\x1bMtop")
    assert term.lines() == [" top", "Xbc", ""]  # reverse index on the top row scrolls the screen down
    term.feed("\x1b[s\x1b[3;1Hbottom\x1b[uZ")
    assert term.lines() == [" topZ", "Xbc", "bottom"]


def test_observation_carries_the_screen() -> None:
    term = FakeTerminal(20, 3)
    term.feed("$ echo hi\r\nhi\r\n$ ")
    observation = term.observation("shell", pane_dead=False)
    assert observation.screen == "$ echo hi\nhi\n$"
    assert observation.driver == "shell"


def test_invalid_size_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least one column"):
        FakeTerminal(0, 10)
