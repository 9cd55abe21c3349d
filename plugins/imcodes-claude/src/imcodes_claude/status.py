"""Claude Code's session status file as a session channel (imcodes_core/channels.py).

Claude Code (2.1.331) keeps ``<config dir>/sessions/<pid>.json`` while it runs (config dir: ``$CLAUDE_CONFIG_DIR``,
else ``~/.claude``) and rewrites it on every status change: ``status`` idle / busy / waiting, ``waitingFor``
("permission prompt"), ``statusUpdatedAt`` (ms) and ``sessionId``. It is deleted when Claude exits.

A killed Claude leaves its file behind, and its pid may later be reused (by a new pane's shell, say). The file's
``procStart`` says which process wrote it: the process's start time as ``/proc/<pid>/stat`` field 22 (clock ticks
since boot) in decimal, checked equal on the real CLI. A file whose ``procStart`` differs from the live process's is
stale and ignored; a file without it (older versions) is trusted as long as its pid is alive.

The file is what says *working again* right after a permission prompt was approved: no hook fires then until the
tool has finished (PostToolUse), while the file turns busy at the keypress. :class:`ClaudeStatusChannel` watches it
and reports each change as ``status.<status>`` with ``at`` = ``statusUpdatedAt`` (Claude's own clock for the
change, not when we read it), and the conversation id.

Watching is adaptive polling of the file's mtime/size/inode: every ``fast`` seconds while Claude is busy or
waiting (a change is due any moment, and it is the one no hook reports), every ``slow`` seconds while idle (an
idle -> busy change comes with the UserPromptSubmit hook anyway), so an idle session costs one ``stat`` a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imcodes_core.channels import ChannelSink
from imcodes_core.states import AgentEvent

STATUS_PREFIX = "status."
# A file without a status yet (written before the TUI is ready) is reported as this imcodes-made status.
NO_STATUS = "starting"
ACTIVE = frozenset({"busy", "waiting"})
MAX_FILE_BYTES = 64 << 10  # the file is about 1 kB; anything much larger is not Claude's status file
MAX_ANCESTRY = 32
STARTUP_SECONDS = 30.0  # how long the file is looked for often after the channel starts


def config_dir(pid: int | None, fallback: Mapping[str, str] | None = None) -> Path:
    """Claude's config dir as the process ``pid`` sees it (its own environment), else as ``fallback`` does."""
    env = dict(os.environ if fallback is None else fallback)
    if pid is not None:
        with contextlib.suppress(OSError):
            raw = Path(f"/proc/{pid}/environ").read_bytes()
            env = {}
            for item in raw.split(b"\0"):
                key, sep, value = item.partition(b"=")
                if sep and key in (b"CLAUDE_CONFIG_DIR", b"HOME"):
                    env[key.decode()] = os.fsdecode(value)
    if env.get("CLAUDE_CONFIG_DIR"):
        return Path(env["CLAUDE_CONFIG_DIR"])
    return Path(env.get("HOME") or Path.home()) / ".claude"


def read_status_file(path: Path) -> dict[str, Any] | None:
    """The file's JSON object, or None (missing, being rewritten, not an object)."""
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
        content = json.loads(raw) if len(raw) <= MAX_FILE_BYTES else None
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) else None


def status_event(content: Mapping[str, Any], file: str = "", seen: float = 0.0) -> AgentEvent:
    """One snapshot of the file as an event: kind ``status.<status>``, at Claude's ``statusUpdatedAt``.

    ``seen`` (when the snapshot was read: the channel's own delay, for diagnostics) stands in for a file without
    ``statusUpdatedAt``.
    """
    status = content.get("status")
    status = status if isinstance(status, str) and status else NO_STATUS
    stamp = content.get("statusUpdatedAt")
    if not isinstance(stamp, int | float) or isinstance(stamp, bool) or stamp <= 0:
        stamp = content.get("startedAt") if status == NO_STATUS else None
    at = float(stamp) / 1000 if isinstance(stamp, int | float) and not isinstance(stamp, bool) else seen
    data: dict[str, Any] = {"status": status, "file": file, "seen": seen}
    for key in ("waitingFor", "sessionId", "pid", "statusUpdatedAt"):
        if key in content:
            data[key] = content[key]
    return AgentEvent(STATUS_PREFIX + status, at, data)


def _alive(pid: object) -> bool:
    return isinstance(pid, int) and pid > 0 and Path(f"/proc/{pid}").exists()


def process_start(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2 :].split()[19])  # fields after the comm start at field 3
    except (OSError, ValueError, IndexError):
        return None


def written_by_live_process(content: Mapping[str, Any], pid: object) -> bool:
    """Whether the file's writer ``pid`` is alive and is the same process: its ``procStart``, when the file has one,
    equals the live process's start time (a reused pid has another)."""
    if not isinstance(pid, int) or not _alive(pid):
        return False
    recorded = content.get("procStart")
    if recorded is None:
        return True  # a version without the field: the live pid is all there is to go by
    try:
        expected = int(recorded)
    except (TypeError, ValueError):
        return False  # a value Claude never writes: not a file to trust
    return process_start(pid) == expected


def _descends_from(pid: int, ancestor: int) -> bool:
    for _ in range(MAX_ANCESTRY):
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat[stat.rindex(")") + 2 :].split()[1])  # the field after the state: the parent
        except (OSError, ValueError, IndexError):
            return False
        if pid <= 1:
            return False
    return False


class ClaudeStatusChannel:
    """Follows the status file of the Claude process in one tmux session's pane."""

    name = "claude-status"

    def __init__(
        self,
        session: str,
        cwd: Path,
        pane_pid: int | None,
        *,
        sessions_dir: Path | None = None,
        fast: float = 0.04,
        slow: float = 1.0,
        search: float = 0.25,
    ) -> None:
        self.session = session
        self.cwd = cwd
        self.pane_pid = pane_pid
        self.sessions_dir = sessions_dir
        self.fast, self.slow, self.search = fast, slow, search
        self.polls = 0  # file checks made: what an idle session costs (tests read it)
        self.busy_seen = 0  # busy periods seen in the current file: the first idle comes before any turn

    def find(self) -> Path | None:
        """The session file of our Claude: ``<pane pid>.json``, else one whose process descends from the pane's
        (a wrapper) or, with no pane pid, whose tmux session and cwd are ours."""
        folder = self.sessions_dir or config_dir(self.pane_pid) / "sessions"
        if self.pane_pid is not None and (direct := folder / f"{self.pane_pid}.json").is_file():
            content = read_status_file(direct)
            # unreadable: caught mid-rewrite, which a stale file never is; watch() checks it once it reads it
            if content is None or written_by_live_process(content, content.get("pid", self.pane_pid)):
                return direct
        try:
            candidates = sorted(folder.glob("*.json"))
        except OSError:
            return None
        for path in candidates:
            if path.stem == str(self.pane_pid):
                continue
            content = read_status_file(path)
            if content is None or not written_by_live_process(content, content.get("pid")):
                continue
            if self._ours(content):
                return path
        return None

    def _ours(self, content: Mapping[str, Any]) -> bool:
        pid = content.get("pid")
        if self.pane_pid is not None:
            return isinstance(pid, int) and _descends_from(pid, self.pane_pid)
        tmux = content.get("tmux")
        return isinstance(tmux, str) and tmux.split(":", 1)[0] == self.session and content.get("cwd") == str(self.cwd)

    async def follow(self, sink: ChannelSink) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        while True:
            path = self.find()
            if path is not None:
                await self.watch(path, sink)
            if self.pane_pid is not None and not _alive(self.pane_pid):
                return  # the pane's process is gone: no Claude will come back in it
            self.polls += 1
            # often while Claude starts (its file appears ~0.1 s after launch), then once per ``slow``
            starting = loop.time() - began < STARTUP_SECONDS
            await asyncio.sleep(self.search if starting else self.slow)

    async def watch(self, path: Path, sink: ChannelSink) -> None:
        """Report every status change of ``path`` until it is deleted or its process is gone."""
        signature: tuple[int, int, int] | None = None
        last: tuple[object, object, object] | None = None
        conversation = ""
        status = ""
        content: dict[str, Any] = {}
        self.busy_seen = 0
        while True:
            self.polls += 1
            try:
                stat = os.stat(path)
            except OSError:
                return  # deleted: Claude exited (or the file was replaced by a new session's)
            now = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            unreadable = False
            if now != signature:
                snapshot = read_status_file(path)
                if snapshot is None:
                    unreadable = True  # caught mid-rewrite: read again soon
                else:
                    signature, content = now, snapshot
                    if not written_by_live_process(content, content.get("pid", _pid_of(path))):
                        return  # left behind by a killed process (whose pid may have been reused)
                    event = status_event(content, str(path), time.time())
                    status = str(event.data["status"])
                    key = (status, content.get("statusUpdatedAt"), content.get("waitingFor"))
                    if key != last:
                        last = key
                        if status == "busy":
                            self.busy_seen += 1
                        sink.event(_with_turns(event, self.busy_seen, stat.st_mtime))
                    session_id = content.get("sessionId")
                    if isinstance(session_id, str) and session_id and session_id != conversation:
                        conversation = session_id
                        sink.conversation(session_id)
            elif status not in ACTIVE and not written_by_live_process(content, _pid_of(path)):
                return  # its Claude was killed (and the pid perhaps reused) while the file stood still
            await asyncio.sleep(self.fast if unreadable or status in ACTIVE or status == NO_STATUS else self.slow)


def _with_turns(event: AgentEvent, busy_seen: int, written: float) -> AgentEvent:
    # turns: busy periods so far; written: the file's mtime (Claude writes it 20-150 ms after statusUpdatedAt)
    return AgentEvent(event.kind, event.at, {**event.data, "turns": busy_seen, "written": written})


def _pid_of(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        return 0
