"""The agent CLI pins in ``scripts/install-agent-clis.sh``, for tests that check what a driver says it was tested on.

A driver's ``AgentDriverSpec.tested_versions`` must name the version the install script pins (the one its golden
screens and recorded events come from). The script lives in the repository, not in an installed distribution,
so a plugin tested on its own finds no script and its test skips.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

INSTALL_SCRIPT = Path("scripts") / "install-agent-clis.sh"
# one entry of the script's CLIS array: "name|npm package|version|command|extra npm flags"
_PIN = re.compile(
    r'^\s*"(?P<name>[a-z0-9-]+)\|(?P<package>[^|"\s]+)\|(?P<version>[^|"\s]+)\|(?P<command>[^|"\s]+)\|[^"]*"',
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class AgentPin:
    name: str
    package: str
    version: str
    command: str


def read_pins(script_text: str) -> dict[str, AgentPin]:
    """The pins of the script's ``CLIS=( ... )`` array, by name (``claude``, ``codex``, ...)."""
    start = script_text.find("CLIS=(")
    if start < 0:
        return {}
    end = script_text.find("\n)", start)
    block = script_text[start : end if end >= 0 else len(script_text)]
    return {m["name"]: AgentPin(m["name"], m["package"], m["version"], m["command"]) for m in _PIN.finditer(block)}


def find_install_script(start: Path) -> Path | None:
    """``scripts/install-agent-clis.sh`` in ``start`` or the nearest folder above it; None outside a clone."""
    folder = start.resolve()
    for candidate in (folder, *folder.parents):
        script = candidate / INSTALL_SCRIPT
        if script.is_file():
            return script
    return None
