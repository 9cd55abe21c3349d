"""A tmux control-mode client (``tmux -C``): the baseline the whole chain is compared with.

It sends commands on stdin and reads ``%output %<pane> <octal-escaped bytes>`` notifications on stdout, which is
the fastest way to see what a pane printed without polling.
"""

from __future__ import annotations

import re
import subprocess
import time

_OCTAL = re.compile(rb"\\([0-7]{3})")


def unescape(data: bytes) -> bytes:
    return _OCTAL.sub(lambda m: bytes([int(m.group(1), 8)]), data)


class ControlClient:
    def __init__(self, socket: str, session: str) -> None:
        self.process = subprocess.Popen(
            ["tmux", "-L", socket, "-C", "attach-session", "-t", session],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=-1,  # buffered: an unbuffered readline reads one byte per system call
        )

    def command(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def read_until(self, wanted: bytes, timeout: float = 5.0) -> float:
        """Read notifications until a pane prints ``wanted``; returns the perf_counter time it was seen."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        seen = b""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("tmux control client closed")
            if line.startswith(b"%output "):
                payload = unescape(line.split(b" ", 2)[2].rstrip(b"\n"))
                seen = (seen + payload)[-4096:]
                if wanted in seen:
                    return time.perf_counter()
        raise TimeoutError(f"{wanted!r} not printed within {timeout} s")

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.command("detach-client")
                self.process.wait(3)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(3)
