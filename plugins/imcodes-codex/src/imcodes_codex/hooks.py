"""imcodes' hooks and ``notify`` for one Codex session, as ``-c key=value`` overrides on its command line.

Codex 0.169.0 takes ``-c/--config key=value`` ("Override a configuration value that would otherwise be loaded from
``~/.codex/config.toml``", ``codex --help``). Overrides form a layer of their own (``/<session-flags>/config.toml``),
so nothing is written to the user's ``config.toml`` or ``hooks.json``, nothing is left to remove when the session
ends, and the user's own hooks still run: Codex loads hooks from every layer.

- ``hooks.<Event>``: one command hook per event in :data:`HOOK_EVENTS` running ``imcodes hook codex`` (payload on
  stdin).
- ``hooks.state``: Codex runs a hook only once it is trusted, else it stops at a "Hooks need review" screen. Trust
  is ``hooks.state."<layer>:<event_label>:<group>:<handler>".trusted_hash``, the sha256 of the hook's identity as
  canonical JSON (``{"event_name", "hooks": [{"async", "command", "timeout", "type"}]}``, keys sorted, compact;
  verified against the hash Codex itself wrote when such a hook was trusted in its TUI). Passing it on the command
  line trusts exactly imcodes' hooks, for this run only (unlike ``--dangerously-bypass-hook-trust``, which would
  also run the user's unreviewed hooks).
- ``notify``: Codex runs the program with its JSON as the last argument when a turn completes; ``imcodes hook
  codex`` reads it from there. Set only when the user has no ``notify`` of their own (an override would replace
  theirs for the session; the Stop hook reports the same end of turn).
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

SESSION_FLAGS_LAYER = "/<session-flags>/config.toml"
# The events imcodes reads (state and chat timeline).
HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "Stop",
    "SessionEnd",
)
# Codex clamps a SessionEnd hook's timeout to 3 s (with a warning on screen): 3 s for every event, far above what
# our hook takes. It is part of the trusted hash.
HOOK_TIMEOUT_SECONDS = 3


def default_hook_command() -> list[str]:
    """``imcodes hook codex``, by absolute path, so the hook works whatever PATH the pane has."""
    beside = Path(sys.executable).with_name("imcodes")
    if beside.is_file():
        return [str(beside), "hook", "codex"]
    return [sys.executable, "-m", "imcodes_core.cli", "hook", "codex"]


def event_label(event: str) -> str:
    """``PreToolUse`` -> ``pre_tool_use``: how Codex names an event in trust keys and hashes."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event).lower()


def trust_key(event: str, layer: str = SESSION_FLAGS_LAYER, group: int = 0, handler: int = 0) -> str:
    return f"{layer}:{event_label(event)}:{group}:{handler}"


def trusted_hash(event: str, command: str, timeout: int = HOOK_TIMEOUT_SECONDS) -> str:
    """The hash Codex stores when a user trusts this one-handler hook (no matcher, synchronous)."""
    handler = {"async": False, "command": command, "timeout": timeout, "type": "command"}
    identity = {"event_name": event_label(event), "hooks": [handler]}
    canonical = json.dumps(identity, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def user_has_notify(codex_home: Path) -> bool:
    """Whether the user's ``config.toml`` sets ``notify`` (unreadable counts as yes: never replace theirs)."""
    try:
        config = tomllib.loads((codex_home / "config.toml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return True
    return "notify" in config


def codex_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("CODEX_HOME") or Path(env.get("HOME") or Path.home()) / ".codex")


def config_overrides(command: Sequence[str] | None = None, *, notify: bool = True) -> list[str]:
    """The ``-c`` arguments (flag and value, flattened) that install and trust imcodes' hooks (and ``notify``)."""
    argv = list(command or default_hook_command())
    line = shlex.join(argv)
    values = []
    for event in HOOK_EVENTS:
        handler = f"{{type={_toml('command')},command={_toml(line)},timeout={HOOK_TIMEOUT_SECONDS}}}"
        values.append(f"hooks.{event}=[{{hooks=[{handler}]}}]")
    states = ",".join(f"{_toml(trust_key(e))}={{trusted_hash={_toml(trusted_hash(e, line))}}}" for e in HOOK_EVENTS)
    values.append(f"hooks.state={{{states}}}")
    if notify:
        values.append(f"notify=[{','.join(_toml(arg) for arg in argv)}]")
    return [arg for value in values for arg in ("-c", value)]
