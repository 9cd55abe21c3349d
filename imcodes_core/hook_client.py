"""``imcodes hook AGENT``, the command an agent runs for each hook event: hands the event to the daemon.

Standard library only, and nothing of imcodes is imported on the way here (``imcodes_core`` and
``imcodes_core.cli`` import their heavy parts lazily): agents wait for their hooks, and Claude Code writes
``idle`` to its status file only after its Stop hook returned, so start-up time is state latency.

The agent writes the hook's JSON payload on stdin. We add the imcodes session (``IMCODES_SESSION``, which the
daemon exported into the session's environment) and send one JSON line to the daemon's event socket
``<IMCODES_HOME>/daemon/events.sock``. Whatever happens (no daemon, bad input, a full socket) we print nothing and
exit 0 fast: a hook must never break or slow down the agent, and output on stdout could be read by the agent as a
decision. :func:`main` is reached from ``imcodes_core.cli.main`` before anything else is imported.

Codex's ``notify`` program gets its JSON as the last command-line argument instead (``imcodes hook codex
'{"type": "agent-turn-complete", ...}'``): a JSON argument after the agent's name is the payload, and stdin is then
not read at all (Codex may leave it attached to nothing that ever closes).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MAX_PAYLOAD_BYTES = 1 << 20  # a bigger payload (a huge tool output) is sent as its small fields only
CONNECT_TIMEOUT = 1.0
KEPT_WHEN_LARGE = ("hook_event_name", "session_id", "transcript_path", "cwd", "tool_name", "tool_use_id")


def events_socket(env: Mapping[str, str]) -> Path:
    home = Path(env.get("IMCODES_HOME") or Path(env.get("HOME") or Path.home()) / ".imcodes")
    return home / "daemon" / "events.sock"


def event_line(agent: str, raw: bytes, env: Mapping[str, str], at: float) -> bytes | None:
    """The line for the daemon; None when the input is no JSON object or there is no session to send it for."""
    session = env.get("IMCODES_SESSION", "")
    if not session:
        return None
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    message: dict[str, Any] = {"v": 1, "agent": agent, "session": session, "at": at, "payload": payload}
    line = json.dumps(message, separators=(",", ":")).encode()
    if len(line) > MAX_PAYLOAD_BYTES:
        message["payload"] = {k: payload[k] for k in KEPT_WHEN_LARGE if k in payload} | {"truncated": True}
        line = json.dumps(message, separators=(",", ":")).encode()
    return line + b"\n"


def send(path: Path, line: bytes, timeout: float = CONNECT_TIMEOUT) -> bool:
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(line)
        return True
    return False


def run(agent: str, stdin: bytes, env: Mapping[str, str]) -> int:
    line = event_line(agent, stdin, env, time.time())
    if line is not None:
        send(events_socket(env), line)
    return 0


def payload_argument(rest: Sequence[str]) -> bytes | None:
    """The payload passed on the command line (Codex's ``notify``): the last argument when it is a JSON object."""
    if rest and rest[-1].lstrip().startswith("{"):
        return os.fsencode(rest[-1])
    return None


def main(args: Sequence[str]) -> int:
    """``imcodes hook AGENT`` without click: the fast path. Never raises, always 0."""
    try:
        agent = args[0] if args and not args[0].startswith("-") else "unknown"
        argument = payload_argument(args[1:])
        if argument is not None:
            return run(agent, argument, os.environ)
        return run(agent, sys.stdin.buffer.read(MAX_PAYLOAD_BYTES * 8), os.environ)
    except Exception:  # a hook must never fail the agent
        return 0
