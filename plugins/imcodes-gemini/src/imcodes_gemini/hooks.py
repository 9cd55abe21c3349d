"""imcodes' hooks for one Gemini CLI session, without writing the user's ``~/.gemini/settings.json``.

Gemini CLI 0.61.0 has no per-run settings option (``gemini --help``) and reads hooks only from settings files:
system (``GEMINI_CLI_SYSTEM_SETTINGS_PATH``), system defaults (``GEMINI_CLI_SYSTEM_DEFAULTS_PATH``), user
(``<home>/.gemini/settings.json``) and workspace (``.gemini/settings.json`` in the project). The two system paths
would be the clean way in, but Gemini skips a system file unless it and every folder above it are owned by root and
writable by no one else (``isFileAndDirectorySecureSync`` in its bundle): useless for a normal user's daemon. The
workspace file is the user's project. What remains is ``GEMINI_CLI_HOME``, which replaces the home folder Gemini
finds ``.gemini`` in. So each session gets a home of its own, ``<session folder>/gemini-home/.gemini`` (the
daemon's private per-session folder, removed when the session ends; ``<imcodes home>/agents/gemini/<session>``
when no folder is given):

- ``settings.json`` there is the user's own settings (read, never written) with imcodes' hooks appended to each
  event's list (Gemini concatenates hook lists anyway; the user's own hooks still run);
- every other entry is a symbolic link to the user's real ``~/.gemini`` entry (API key and OAuth files, trusted
  folders, ``tmp`` with the chat history ``--resume`` needs, extensions, commands, ``GEMINI.md``), so the session
  sees and updates the user's state. ``tmp`` is created in the user's folder first if missing, as Gemini would.

The folder is rebuilt at every launch (a changed user setting is picked up by the next session start). If the
user's settings cannot be read as a JSON object (JSON with comments is understood), the session starts without
hooks rather than without the user's settings: its state then comes from the screen.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The events imcodes reads (state and chat timeline). BeforeModel/AfterModel fire per request and per streamed
# chunk: a process start each for nothing the daemon needs.
HOOK_EVENTS = ("SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "Notification", "AfterAgent", "SessionEnd")
MATCHED_EVENTS = frozenset({"BeforeTool", "AfterTool", "Notification"})  # matched on tool or notification type
HOOK_TIMEOUT_MS = 5000  # Gemini waits for a hook; ours returns in well under a second, this bounds it anyway
HOOK_NAME = "imcodes"
GEMINI_DIR = ".gemini"
SETTINGS = "settings.json"
SHARED_FOLDERS = ("tmp",)  # created in the user's folder when missing, so chat history lands there
_COMMENTS = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.DOTALL)


def default_hook_command() -> list[str]:
    """``imcodes hook gemini``, by absolute path, so the hook works whatever PATH the pane has."""
    beside = Path(sys.executable).with_name("imcodes")
    if beside.is_file():
        return [str(beside), "hook", "gemini"]
    return [sys.executable, "-m", "imcodes_core.cli", "hook", "gemini"]


def hook_settings(command: Sequence[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The ``hooks`` object: one command hook per event in :data:`HOOK_EVENTS`."""
    handler = {
        "name": HOOK_NAME,
        "type": "command",
        "command": shlex.join(command or default_hook_command()),
        "timeout": HOOK_TIMEOUT_MS,
    }
    hooks: dict[str, list[dict[str, Any]]] = {}
    for event in HOOK_EVENTS:
        group: dict[str, Any] = {"hooks": [handler]}
        hooks[event] = [{"matcher": "*", **group} if event in MATCHED_EVENTS else group]
    return hooks


def read_settings(path: Path) -> dict[str, Any] | None:
    """The user's settings as Gemini reads them (comments allowed); {} when absent, None when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError:
        return None
    try:
        value = json.loads(_COMMENTS.sub(lambda m: m.group(1) or "", text))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def merged_settings(user: Mapping[str, Any], command: Sequence[str] | None = None) -> dict[str, Any]:
    """The user's settings with imcodes' hooks after theirs, event by event."""
    merged = dict(user)
    theirs = user.get("hooks")
    hooks: dict[str, Any] = dict(theirs) if isinstance(theirs, dict) else {}
    for event, groups in hook_settings(command).items():
        existing = hooks.get(event)
        hooks[event] = [*(existing if isinstance(existing, list) else []), *groups]
    merged["hooks"] = hooks
    return merged


def user_gemini_home(env: Mapping[str, str]) -> Path:
    """The folder holding the user's ``.gemini``: ``GEMINI_CLI_HOME`` when they set one, else HOME."""
    return Path(env.get("GEMINI_CLI_HOME") or env.get("HOME") or Path.home())


def session_home(
    imcodes_home: Path,
    session: str,
    user_home: Path,
    command: Sequence[str] | None = None,
    folder: Path | None = None,
) -> Path | None:
    """Build the session's ``GEMINI_CLI_HOME`` (see the module's docstring); None when the user's settings are
    unreadable (then no hooks: the session runs on the user's own home). ``folder``: where to build it (the
    daemon's private per-session folder, removed when the session ends); by default under ``imcodes_home``."""
    user_dir = user_home / GEMINI_DIR
    settings = read_settings(user_dir / SETTINGS)
    if settings is None:
        log.warning(
            "cannot read %s as JSON: gemini session %s runs without imcodes' hooks", user_dir / SETTINGS, session
        )
        return None
    home = folder or imcodes_home / "agents" / "gemini" / re.sub(r"[^A-Za-z0-9._-]", "_", session)
    own_dir = home / GEMINI_DIR
    if own_dir.is_symlink() or own_dir.is_file():
        own_dir.unlink()
    own_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    user_dir.mkdir(parents=True, exist_ok=True)
    for folder in SHARED_FOLDERS:
        (user_dir / folder).mkdir(exist_ok=True)
    for entry in own_dir.iterdir():  # last launch's links and settings: rebuilt from the user's folder now
        if entry.is_symlink() or entry.name == SETTINGS:
            entry.unlink()
    for entry in user_dir.iterdir():
        if entry.name == SETTINGS:
            continue
        target = own_dir / entry.name
        if target.exists() and not target.is_symlink():  # a file Gemini made here while no user's file existed
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        target.symlink_to(entry)
    written = own_dir / SETTINGS
    written.write_text(json.dumps(merged_settings(settings, command), indent=2) + "\n", encoding="utf-8")
    os.chmod(written, 0o600)  # it may hold what the user's settings hold
    return home
