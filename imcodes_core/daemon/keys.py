"""xterm.js input to tmux: deliver exactly the bytes the browser produced.

ASCII (text, control keys, escape sequences for arrows, function keys, bracketed paste) goes as ``send-keys -H``
hex, byte for byte: tmux writes each one unchanged into the pane. ``-H`` cannot carry multi-byte UTF-8 (a byte
above 0x7f would be taken as a code point), so runs of non-ASCII characters go as ``send-keys -l`` literal text;
such a run contains no quote or control character, so single-quoting it is exact.

Also: the text of each line submitted with Enter, for the ``input`` timeline event (with the usual line editing
keys applied, so a corrected typo is recorded as corrected).
"""

from __future__ import annotations

from imcodes_core.daemon.tmux import quote

HEX_BYTES_PER_COMMAND = 512  # keeps each command line a few KB: a big paste becomes several lines, in order
MAX_LINE_CHARS = 4096  # a pending line longer than this is not a typed line any more (a paste): cap the record


def input_commands(target: str, data: str) -> list[str]:
    commands: list[str] = []
    run: list[str] = []
    ascii_run = True

    def flush() -> None:
        if not run:
            return
        text = "".join(run)
        if ascii_run:
            raw = text.encode("ascii")
            for start in range(0, len(raw), HEX_BYTES_PER_COMMAND):
                part = raw[start : start + HEX_BYTES_PER_COMMAND]
                commands.append(f"send-keys -t {target} -H " + " ".join(f"{b:02x}" for b in part))
        else:
            commands.append(f"send-keys -t {target} -l -- {quote(text)}")
        run.clear()

    for char in data:
        is_ascii = ord(char) < 0x80
        if is_ascii != ascii_run:
            flush()
            ascii_run = is_ascii
        if not is_ascii and (len(run) >= HEX_BYTES_PER_COMMAND or 0xD800 <= ord(char) <= 0xDFFF):
            flush()
            if 0xD800 <= ord(char) <= 0xDFFF:
                continue  # a lone surrogate cannot be encoded: drop it rather than fail the whole input
        run.append(char)
    flush()
    return commands


class LineTracker:
    """Follows what the user types to report each submitted line (text before ``\\r``).

    Escape sequences (arrows, function keys) are skipped; backspace edits the pending line; Ctrl-C and Ctrl-U
    discard it. It is a record of intent for the timeline, not a terminal emulator.
    """

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._escape = ""

    def feed(self, data: str) -> list[str]:
        lines: list[str] = []
        for char in data:
            if self._escape:
                self._escape += char
                if _escape_done(self._escape):
                    self._escape = ""
                continue
            if char == "\x1b":
                self._escape = char
            elif char in "\r\n":
                if char == "\r" or self._pending:
                    lines.append("".join(self._pending))
                self._pending.clear()
            elif char in "\x7f\x08":
                if self._pending:
                    self._pending.pop()
            elif char in "\x03\x15":
                self._pending.clear()
            elif (char >= " " or char == "\t") and len(self._pending) < MAX_LINE_CHARS:
                self._pending.append(char)
        return [line for line in lines if line.strip()]


def _escape_done(seq: str) -> bool:
    if len(seq) < 2:
        return False
    second = seq[1]
    if second == "[":
        # CSI: parameters then one final byte in @..~ ; bracketed paste markers are CSI too
        return len(seq) > 2 and "@" <= seq[-1] <= "~"
    if second == "O":
        return len(seq) >= 3  # SS3: ESC O P (F1), ESC O A (application cursor up)
    return True  # ESC + one key (Alt-x)
