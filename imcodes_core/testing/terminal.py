"""A small in-memory VT100-ish screen, enough to turn recorded terminal output into the text a detector reads.

It understands what agent TUIs and ``tmux capture-pane -e`` actually emit: printable text (wide characters take
two cells, as in tmux), CR, LF, BS, TAB, CSI cursor movement and positioning, erase in line / display, insert and
delete of characters and lines, scrolling regions, save / restore cursor, and the alternate screen. Colours and
other SGR attributes, OSC titles and charset switches are parsed and ignored: detectors read text, not colour.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Callable

from imcodes_core.states import AgentEvent, Observation

_ESC = "\x1b"
_CSI_FINAL = range(0x40, 0x7F)
_SGR = re.compile(r"\x1b\[[0-9;:]*m")


def _cell_width(char: str) -> int:
    if unicodedata.combining(char) or char in "\u200b\u200c\u200d\ufe0f":
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


class FakeTerminal:
    """Feed bytes or text with :meth:`feed`; read the visible screen with :meth:`screen_text`.

    ``lf_returns`` makes LF also return to column 0, which is what a program's ``\\n`` looks like after the tty's
    ``onlcr`` translation and how ``capture-pane`` files are written; set it to False for strict VT100 LF.
    """

    def __init__(self, columns: int = 120, rows: int = 40, *, lf_returns: bool = True) -> None:
        if columns < 1 or rows < 1:
            raise ValueError(f"a terminal needs at least one column and one row, got {columns}x{rows}")
        self.columns = columns
        self.rows = rows
        self.lf_returns = lf_returns
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # an escape sequence split across two feeds
        self.reset()

    # -- state -----------------------------------------------------------------------------------------------------

    def reset(self) -> None:
        self._grid = [self._blank_row() for _ in range(self.rows)]
        self._saved_grid: list[list[str]] | None = None
        self.cursor_row = 0
        self.cursor_col = 0
        self._wrap_pending = False
        self._saved_cursor = (0, 0)
        self._top = 0
        self._bottom = self.rows - 1

    def _blank_row(self) -> list[str]:
        return [" "] * self.columns

    # -- reading ---------------------------------------------------------------------------------------------------

    def lines(self) -> list[str]:
        """Every row, right-trimmed; a wide character's second cell is not repeated."""
        return ["".join(row).rstrip() for row in self._grid]

    def screen_text(self) -> str:
        """The visible screen as ``capture-pane -p`` prints it: rows joined by newlines, trailing blanks trimmed."""
        return "\n".join(self.lines()).rstrip("\n")

    def observation(
        self,
        driver: str = "shell",
        *,
        events: tuple[AgentEvent, ...] = (),
        pane_dead: bool = False,
        exit_status: int | None = None,
        now: float = 0.0,
    ) -> Observation:
        """An :class:`Observation` of the current screen, ready for a detector."""
        return Observation(driver, self.screen_text(), events, pane_dead, exit_status, now)

    # -- writing ---------------------------------------------------------------------------------------------------

    def feed(self, data: bytes | str) -> None:
        text = self._decoder.decode(data) if isinstance(data, bytes) else data
        text = self._pending + text
        self._pending = ""
        index = 0
        length = len(text)
        while index < length:
            char = text[index]
            if char == _ESC:
                consumed = self._escape(text, index)
                if consumed == 0:  # incomplete: keep it for the next feed
                    self._pending = text[index:]
                    return
                index += consumed
                continue
            if ord(char) < 0x20 or char == "\x7f":
                self._control(char)
            else:
                self._print(char)
            index += 1

    def _control(self, char: str) -> None:
        if char == "\r":
            self.cursor_col = 0
            self._wrap_pending = False
        elif char in "\n\x0b\x0c":
            self._linefeed()
            if self.lf_returns:
                self.cursor_col = 0
        elif char == "\b":
            self.cursor_col = max(0, self.cursor_col - 1)
            self._wrap_pending = False
        elif char == "\t":
            self.cursor_col = min(self.columns - 1, (self.cursor_col // 8 + 1) * 8)
        # BEL, NUL, SO/SI and the rest draw nothing

    def _print(self, char: str) -> None:
        width = _cell_width(char)
        if width == 0:
            return
        if self._wrap_pending or self.cursor_col + width > self.columns:
            self.cursor_col = 0
            self._linefeed()
            self._wrap_pending = False
        row = self._grid[self.cursor_row]
        row[self.cursor_col] = char
        if width == 2:
            row[self.cursor_col + 1] = ""  # the right half of a wide character renders as nothing
        if self.cursor_col + width >= self.columns:
            self.cursor_col = self.columns - 1
            self._wrap_pending = True
        else:
            self.cursor_col += width

    def _linefeed(self) -> None:
        self._wrap_pending = False
        if self.cursor_row == self._bottom:
            self._scroll_up(1)
        elif self.cursor_row < self.rows - 1:
            self.cursor_row += 1

    def _scroll_up(self, count: int) -> None:
        for _ in range(min(count, self._bottom - self._top + 1)):
            del self._grid[self._top]
            self._grid.insert(self._bottom, self._blank_row())

    def _scroll_down(self, count: int) -> None:
        for _ in range(min(count, self._bottom - self._top + 1)):
            del self._grid[self._bottom]
            self._grid.insert(self._top, self._blank_row())

    # -- escape sequences ------------------------------------------------------------------------------------------

    def _escape(self, text: str, start: int) -> int:
        """Handle the sequence at ``start``; return how many characters it used, 0 when it is incomplete."""
        if start + 1 >= len(text):
            return 0
        kind = text[start + 1]
        if kind == "[":
            return self._csi(text, start)
        if kind == "]" or kind in "PX^_":  # OSC, DCS, SOS, PM, APC: skip to BEL or ST
            for end in range(start + 2, len(text)):
                if text[end] == "\x07":
                    return end - start + 1
                if text[end] == _ESC and end + 1 < len(text) and text[end + 1] == "\\":
                    return end - start + 2
            return 0
        if kind in "()*+#%":  # charset designation and friends take one more character
            return 3 if start + 2 < len(text) else 0
        simple: dict[str, Callable[[], None]] = {
            "7": self._save_cursor,
            "8": self._restore_cursor,
            "D": self._linefeed,
            "E": self._next_line,
            "M": self._reverse_index,
            "c": self.reset,
        }
        action = simple.get(kind)
        if action is not None:
            action()
        return 2  # anything else (keypad modes, ...) is two characters and draws nothing

    def _csi(self, text: str, start: int) -> int:
        end = start + 2
        while end < len(text) and ord(text[end]) not in _CSI_FINAL:
            end += 1
        if end >= len(text):
            return 0
        body = text[start + 2 : end]
        private = body[:1] in ("?", ">", "<", "=")
        raw = body.lstrip("?><=").rstrip(" !\"#$%&'()*+,-./")
        params = [int(p) if p.isdigit() else 0 for p in raw.replace(":", ";").split(";")] if raw else []
        final = text[end]
        if private:
            self._private_mode(final, params)
        else:
            self._csi_action(final, params)
        return end - start + 1

    def _csi_action(self, final: str, params: list[int]) -> None:
        first = params[0] if params else 0
        count = max(1, first)
        self._wrap_pending = False
        if final in "AF":
            self.cursor_row = max(self._top if self.cursor_row >= self._top else 0, self.cursor_row - count)
        elif final in "BE":
            self.cursor_row = min(
                self._bottom if self.cursor_row <= self._bottom else self.rows - 1, self.cursor_row + count
            )
        elif final in "Ca":
            self.cursor_col = min(self.columns - 1, self.cursor_col + count)
        elif final == "D":
            self.cursor_col = max(0, self.cursor_col - count)
        elif final in "G`":
            self.cursor_col = min(self.columns - 1, count - 1)
        elif final == "d":
            self.cursor_row = min(self.rows - 1, count - 1)
        elif final in "Hf":
            to_row = params[0] if params else 1
            to_col = params[1] if len(params) > 1 else 1
            self.cursor_row = min(self.rows - 1, max(1, to_row) - 1)
            self.cursor_col = min(self.columns - 1, max(1, to_col) - 1)
        elif final == "J":
            self._erase_display(first)
        elif final == "K":
            self._erase_line(first)
        elif final == "X":
            row = self._grid[self.cursor_row]
            for col in range(self.cursor_col, min(self.columns, self.cursor_col + count)):
                row[col] = " "
        elif final == "P":
            row = self._grid[self.cursor_row]
            del row[self.cursor_col : self.cursor_col + count]
            row.extend([" "] * (self.columns - len(row)))
        elif final == "@":
            row = self._grid[self.cursor_row]
            row[self.cursor_col : self.cursor_col] = [" "] * count
            del row[self.columns :]
        elif final in "LM" and self._top <= self.cursor_row <= self._bottom:
            saved_top, self._top = self._top, self.cursor_row
            if final == "L":
                self._scroll_down(count)
            else:
                self._scroll_up(count)
            self._top = saved_top
        elif final == "S":
            self._scroll_up(count)
        elif final == "T":
            self._scroll_down(count)
        elif final == "r":
            top = (params[0] if params else 1) or 1
            bottom = (params[1] if len(params) > 1 else self.rows) or self.rows
            if top < bottom <= self.rows:
                self._top, self._bottom = top - 1, bottom - 1
                self.cursor_row, self.cursor_col = 0, 0
        elif final == "s":
            self._save_cursor()
        elif final == "u":
            self._restore_cursor()
        elif final == "h" and 20 in params:
            self.lf_returns = True
        elif final == "l" and 20 in params:
            self.lf_returns = False
        # SGR (m), device reports (n, c), window ops (t) and the rest change nothing visible

    def _private_mode(self, final: str, params: list[int]) -> None:
        alternate = {47, 1047, 1049} & set(params)
        if not alternate:
            return
        if final == "h" and self._saved_grid is None:
            self._saved_grid = self._grid
            self._grid = [self._blank_row() for _ in range(self.rows)]
        elif final == "l" and self._saved_grid is not None:
            self._grid, self._saved_grid = self._saved_grid, None

    def _erase_display(self, mode: int) -> None:
        if mode == 0:
            self._erase_line(0)
            for row in range(self.cursor_row + 1, self.rows):
                self._grid[row] = self._blank_row()
        elif mode == 1:
            self._erase_line(1)
            for row in range(self.cursor_row):
                self._grid[row] = self._blank_row()
        else:  # 2 and 3 (3 also drops scrollback, which we do not keep)
            self._grid = [self._blank_row() for _ in range(self.rows)]

    def _erase_line(self, mode: int) -> None:
        row = self._grid[self.cursor_row]
        span = {0: range(self.cursor_col, self.columns), 1: range(self.cursor_col + 1)}.get(mode, range(self.columns))
        for col in span:
            row[col] = " "

    def _next_line(self) -> None:
        self._linefeed()
        self.cursor_col = 0

    def _save_cursor(self) -> None:
        self._saved_cursor = (self.cursor_row, self.cursor_col)

    def _restore_cursor(self) -> None:
        self.cursor_row, self.cursor_col = self._saved_cursor
        self._wrap_pending = False

    def _reverse_index(self) -> None:
        if self.cursor_row == self._top:
            self._scroll_down(1)
        else:
            self.cursor_row = max(0, self.cursor_row - 1)


def render_capture(capture: str, columns: int | None = None, rows: int | None = None) -> str:
    """Render a ``tmux capture-pane -p -e`` file (one screen row per line) to the text of that screen.

    Rows are fed separated by CR LF, as a terminal would draw them, so a full screen does not scroll. Without
    ``columns`` / ``rows`` the screen is as wide as the widest row and as tall as the capture.
    """
    lines = capture.removesuffix("\n").split("\n")
    if columns is None:
        stripped = (_SGR.sub("", line) for line in lines)
        columns = max([120, *(sum(_cell_width(char) for char in line) for line in stripped)])
    terminal = FakeTerminal(columns, rows or len(lines))
    terminal.feed("\r\n".join(lines[: terminal.rows]))
    return terminal.screen_text()
