"""A pane's live output through ``pipe-pane -O`` into a FIFO the daemon reads without blocking.

Why not the control client's ``%output`` lines: tmux escapes every byte below 32 as octal for a control client and
writes it line by line, which caps a flat-out pane near 10 MB/s on this kind of machine; a pipe-pane consumer costs
tmux almost nothing. tmux runs ``cat`` with the pane's output on its stdin; ``cat`` writes into our FIFO; the event
loop wakes us only when bytes are there (no timer, no poll). We hold a write end of the FIFO ourselves so the reader
never sees end-of-file when tmux replaces or closes the pipe (``pipe-pane`` replaces any previous pipe of the pane,
which is how a restarted daemon takes a session over).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from imcodes_core.daemon.tmux import quote

log = logging.getLogger(__name__)

READ_CHUNK = 1024 * 1024
MAX_READ_PER_WAKE = 4 * 1024 * 1024  # then yield to the loop so the link can send while a pane floods
PIPE_SIZE = 1024 * 1024  # a bigger FIFO buffer: fewer wake-ups and context switches while output flows


class PaneOutput:
    """The FIFO of one pane. ``on_output(bytes)`` for each read, ``on_batch_end()`` after each wake's reads."""

    def __init__(self, on_output: Callable[[bytes], None], on_batch_end: Callable[[], None]) -> None:
        self._on_output = on_output
        self._on_batch_end = on_batch_end
        self._dir = Path(tempfile.mkdtemp(prefix="imcodes-pane-"))  # 0700: nobody else can read or feed it
        self.path = self._dir / "out.fifo"
        os.mkfifo(self.path, 0o600)
        self._read_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._hold_fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)  # never EOF between two writers
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._read_fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._read_fd, self._readable)
        self.closed = False

    def pipe_command(self, pane: str) -> str:
        """The tmux command line that sends the pane's output here (``exec``: no shell stays behind)."""
        return f"pipe-pane -O -t {pane} " + quote(f"exec cat > {shlex.quote(str(self.path))}")

    def drain(self) -> None:
        """Deliver what is already in the FIFO now (before a snapshot is captured), bounded while a pane floods."""
        if not self.closed:
            self._read_all(limit=2 * MAX_READ_PER_WAKE)

    def _readable(self) -> None:
        self._read_all(limit=MAX_READ_PER_WAKE)

    def _read_all(self, limit: int | None) -> None:
        total = 0
        try:
            while limit is None or total < limit:
                try:
                    data = os.read(self._read_fd, READ_CHUNK)
                except BlockingIOError:
                    break
                if not data:
                    break  # cannot happen while we hold a write end; be safe anyway
                total += len(data)
                self._on_output(data)
        except Exception:
            log.exception("reading pane output failed")
        if total:
            self._on_batch_end()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._loop.remove_reader(self._read_fd)
        for fd in (self._read_fd, self._hold_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._dir, ignore_errors=True)
