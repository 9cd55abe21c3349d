"""tmux on the daemon's private socket: one-shot commands and one control-mode client per session.

A control client (``tmux -C attach -t =name``) is a tmux client whose terminal is a pipe: tmux writes every byte a
pane produces as ``%output %pane escaped-bytes`` lines, and answers each command line we write with one
``%begin ... %end`` (or ``%error``) block, in order with the output. That ordering is what makes snapshots exact:
a ``capture-pane`` answered by the control client reflects every ``%output`` line before its ``%begin`` and none
after its ``%end``. No polling: the reader wakes only when tmux writes.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "imcodes"
READ_CHUNK = 256 * 1024


def socket_name() -> str:
    return os.environ.get("IMCODES_TMUX_SOCKET") or DEFAULT_SOCKET


# Markers of a non-interactive CI run. Agents started in tmux are interactive whatever started the daemon, and Ink
# TUIs (Gemini CLI, Qwen Code) stop painting their screen when they see one of these (seen with CI=true).
_CI_MARKERS = ("CI", "CONTINUOUS_INTEGRATION", "BUILD_NUMBER", "RUN_ID")


def tmux_env() -> dict[str, str]:
    """Our environment without TMUX (a daemon started inside tmux must not talk to the user's own server) and
    without CI markers (the tmux server this environment starts passes it on to every agent)."""
    env = dict(os.environ)
    for key in ("TMUX", "TMUX_PANE", *_CI_MARKERS):
        env.pop(key, None)
    return env


class TmuxError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Tmux:
    """One-shot tmux commands on one socket (session creation, listing, options)."""

    socket: str

    async def run(self, *args: str, check: bool = True) -> str:
        proc = await asyncio.create_subprocess_exec(
            "tmux",
            "-L",
            self.socket,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=tmux_env(),
        )
        out, err = await proc.communicate()
        if check and proc.returncode != 0:
            raise TmuxError(err.decode(errors="replace").strip() or f"tmux {args[0]} failed")
        return out.decode(errors="replace")

    async def list_sessions(self, fmt: str) -> list[str]:
        """Lines of ``list-sessions -F fmt``; an absent server means no sessions."""
        proc = await asyncio.create_subprocess_exec(
            "tmux",
            "-L",
            self.socket,
            "list-sessions",
            "-F",
            fmt,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=tmux_env(),
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            return []  # "no server running" / "error connecting": nothing to adopt
        return [line for line in out.decode(errors="replace").splitlines() if line]


def unescape_output(data: bytes) -> bytes:
    """Undo control mode's escaping: bytes < 32 and the backslash are written as ``\\ooo`` octal.

    Every backslash tmux writes starts such an escape, so Python's C-level escape decoder is exact (and fast).
    """
    if b"\\" not in data:
        return data
    return codecs.escape_decode(data)[0]


def quote(arg: str) -> str:
    """Quote one argument for tmux's command parser (single quotes: no escapes, no expansion)."""
    if "'" not in arg:
        return f"'{arg}'"
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


@dataclass(slots=True)
class Reply:
    ok: bool
    lines: list[bytes]

    def text(self) -> str:
        return b"\n".join(self.lines).decode(errors="replace")


ReplyCallback = Callable[[Reply], None]


class ControlClient:
    """A ``tmux -C attach`` client for one session.

    ``on_output(pane, bytes)`` is called for every ``%output`` of the session's panes, in order, from the reader task.
    ``on_batch_end()`` after each read's worth of lines (so consumers can coalesce what was already readable and
    flush when the next read would block). ``on_exit()`` once when the client ends (session gone, server gone).
    """

    def __init__(
        self,
        tmux: Tmux,
        session: str,
        on_output: Callable[[bytes, bytes], None],
        on_batch_end: Callable[[], None],
        on_exit: Callable[[], None],
        *,
        flags: str = "",
    ) -> None:
        self.tmux = tmux
        self.flags = flags  # client flags set by the attach itself (e.g. "no-output"), so no command can race them
        self.session = session
        self._on_output = on_output
        self._on_batch_end = on_batch_end
        self._on_exit = on_exit
        self._proc: asyncio.subprocess.Process | None = None
        self._pending: deque[tuple[ReplyCallback | None, asyncio.Future[Reply] | None]] = deque()
        self._block: list[bytes] | None = None
        self._block_ours = False  # flags 1: a command we wrote; 0: the attach itself or a hook, nobody's reply
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            "tmux",
            "-L",
            self.tmux.socket,
            "-C",
            "attach-session",
            *(("-f", self.flags) if self.flags else ()),
            "-t",
            f"={self.session}",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=tmux_env(),
            limit=READ_CHUNK * 4,
        )
        self._reader = asyncio.get_running_loop().create_task(self._read(), name=f"tmux-control-{self.session}")

    @property
    def alive(self) -> bool:
        return self._proc is not None and not self.closed.is_set()

    def send(self, line: str, on_reply: ReplyCallback | None = None) -> None:
        """Write one command line; ``on_reply`` runs inside the reader, before any later ``%output`` is handled."""
        self._write(line, on_reply, None)

    async def command(self, line: str) -> Reply:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._write(line, None, future)
        return await future

    def _write(self, line: str, callback: ReplyCallback | None, future: asyncio.Future[Reply] | None) -> None:
        if self._proc is None or self._proc.stdin is None or self.closed.is_set():
            reply = Reply(False, [b"control client closed"])
            if callback is not None:
                callback(reply)
            if future is not None:
                future.set_result(reply)
            return
        if "\n" in line:
            raise ValueError("one tmux command line at a time")
        self._pending.append((callback, future))
        self._proc.stdin.write(line.encode() + b"\n")

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        rest = b""
        try:
            while True:
                chunk = await stdout.read(READ_CHUNK)
                if not chunk:
                    break
                data = rest + chunk
                lines = data.split(b"\n")
                rest = lines.pop()
                for line in lines:
                    self._line(line)
                self._on_batch_end()
        except Exception:  # a parsing bug must not leave a zombie session behind: log and end this client
            log.exception("tmux control client for %s failed", self.session)
        finally:
            self._finish()

    def _line(self, line: bytes) -> None:
        if self._block is not None:
            if line.startswith((b"%end ", b"%error ")) and _same_block(line):
                self._complete(Reply(line.startswith(b"%end "), self._block))
                return
            self._block.append(line)
            return
        if line.startswith(b"%output "):
            space = line.find(b" ", 8)  # "%output %<pane> <data>"
            if space > 0:
                self._on_output(line[8:space], unescape_output(line[space + 1 :]))
        elif line.startswith(b"%begin "):
            self._block = []
            self._block_ours = line.rsplit(b" ", 1)[-1] != b"0"
        elif line.startswith(b"%exit"):
            pass  # the pipe closes right after; _finish handles it

    def _complete(self, reply: Reply) -> None:
        self._block = None
        if not self._block_ours or not self._pending:
            return
        callback, future = self._pending.popleft()
        if callback is not None:
            try:
                callback(reply)
            except Exception:
                log.exception("reply handler failed for %s", self.session)
        if future is not None and not future.done():
            future.set_result(reply)

    def _finish(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        while self._pending:
            callback, future = self._pending.popleft()
            reply = Reply(False, [b"control client closed"])
            if callback is not None:
                callback(reply)
            if future is not None and not future.done():
                future.set_result(reply)
        self._on_exit()

    async def close(self) -> None:
        """Detach (the tmux session keeps running)."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None and proc.stdin is not None:
            proc.stdin.close()  # EOF on stdin makes a control client detach
            try:
                await asyncio.wait_for(proc.wait(), 3)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._reader is not None:
            await self._reader


def _same_block(line: bytes) -> bool:
    # "%end <time> <number> <flags>": a line of pane text inside a block could start with "%end" too, but tmux
    # escapes nothing inside blocks, so also require the numeric shape of a real end line.
    parts = line.split(b" ")
    return len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit()
