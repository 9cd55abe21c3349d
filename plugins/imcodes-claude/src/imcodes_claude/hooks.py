"""imcodes' hooks for one Claude Code session, handed to ``claude --settings <json>``.

Claude Code 2.1.331 takes ``--settings <file-or-json>`` ("Settings file or JSON string to load more settings
from", ``claude --help``) as one more settings source, merged with the user's, project and local settings. Passing
the hooks inline on the command line means imcodes never writes the user's ``~/.claude/settings.json`` nor the
project's ``.claude/settings*.json``, and there is nothing to remove when the session stops: the hooks live and die
with the process.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The events imcodes reads (state and chat timeline). Others (MessageDisplay, PostToolBatch, PreCompact, ...) would
# cost a process start each for nothing.
HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "Notification",
    "PostToolUse",
    "Stop",
    "SessionEnd",
)
# Tool events take a matcher on the tool's name; "*" matches every tool.
TOOL_EVENTS = frozenset({"PreToolUse", "PermissionRequest", "PostToolUse"})
# Claude waits for a command hook before it goes on; ours returns in well under a second, and this bounds it anyway.
HOOK_TIMEOUT_SECONDS = 5


def default_hook_command() -> list[str]:
    """``imcodes hook claude``, by absolute path, so the hook works whatever PATH the pane has."""
    beside = Path(sys.executable).with_name("imcodes")
    if beside.is_file():
        return [str(beside), "hook", "claude"]
    return [sys.executable, "-m", "imcodes_core.cli", "hook", "claude"]


def hook_settings(command: Sequence[str] | None = None) -> dict[str, Any]:
    """The settings object holding one command hook per event in :data:`HOOK_EVENTS`."""
    line = shlex.join(command or default_hook_command())
    handler = {"type": "command", "command": line, "timeout": HOOK_TIMEOUT_SECONDS}
    hooks: dict[str, list[dict[str, Any]]] = {}
    for event in HOOK_EVENTS:
        group: dict[str, Any] = {"hooks": [handler]}
        if event in TOOL_EVENTS:
            group = {"matcher": "*", **group}
        hooks[event] = [group]
    return {"hooks": hooks}


def settings_argument(command: Sequence[str] | None = None) -> str:
    """The JSON string for ``--settings``."""
    return json.dumps(hook_settings(command), separators=(",", ":"))
