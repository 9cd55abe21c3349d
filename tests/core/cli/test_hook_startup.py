"""``imcodes hook`` runs on every agent hook event and the agent waits for it (Claude Code writes idle to its status
file only after its Stop hook returned): it must start without importing click, the plugin host or pydantic."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("click", "cloup", "pluggy", "pydantic", "imcodes_core.host", "imcodes_core.hookspecs", "websockets")

SNIPPET = """
import sys
from imcodes_core.cli import main
try:
    main(["hook", "claude"])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY_ROOTS} or m in {HEAVY_NAMES})
print(code, ",".join(heavy))
"""


def test_the_hook_fast_path_imports_nothing_heavy() -> None:
    roots = {name for name in HEAVY if "." not in name}
    names = {name for name in HEAVY if "." in name}
    code = SNIPPET.replace("{HEAVY_ROOTS}", repr(roots)).replace("{HEAVY_NAMES}", repr(names))
    done = subprocess.run(
        [sys.executable, "-c", code], input=b"{}", capture_output=True, timeout=30, check=True, env={"PATH": ""}
    )
    status, _, heavy = done.stdout.decode().strip().partition(" ")
    assert status == "0"
    assert heavy == "", f"imcodes hook imported {heavy}"


def test_the_package_still_offers_its_names_on_first_use() -> None:
    import imcodes_core

    assert imcodes_core.hookimpl.project_name == "imcodes"
    assert callable(imcodes_core.make_plugin_host)
