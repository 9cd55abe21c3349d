"""Pieces of the real-CLI test harness: where the CLIs are installed, stand-in screen markers, agent processes.

Loaded by ``conftest.py`` from its path (the tests run with ``--import-mode=importlib``, where a test folder is
no package to import from).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from imcodes_core.host import PluginHost
from imcodes_core.states import Observation, SessionState, SignalSource, StateDetector, StateReading

POLL_SECONDS = 0.1
GENERIC_DETECTORS = frozenset({"pane-life", "imcodes-answers", "generic-screen"})


def agent_cli_dir() -> Path:
    return Path(os.environ.get("IMCODES_AGENT_CLI_DIR") or Path.home() / ".cache/imcodes/agent-clis")


def installed_cli(name: str) -> tuple[Path, str]:
    """The CLI's command and version from the install folder, or skip the test saying why it is missing."""
    folder = agent_cli_dir()
    versions = folder / "versions.json"
    if not versions.is_file():
        pytest.skip(f"agent CLIs not installed: no {versions} (run scripts/install-agent-clis.sh)")
    info = json.loads(versions.read_text(encoding="utf-8")).get("clis", {}).get(name)
    if info is None:
        pytest.skip(f"{name} is not installed in {folder} (run scripts/install-agent-clis.sh {name})")
    command = folder / "bin" / str(info["command"])
    if not command.exists():
        pytest.skip(f"{name} is listed in {versions} but {command} is missing (run scripts/install-agent-clis.sh)")
    if info.get("version") != info.get("pinned"):
        pytest.skip(f"{name} {info.get('version')} is installed but the tests need {info.get('pinned')}")
    return command, str(info["version"])


class MarkerDetector(StateDetector):
    """Screen markers from a test module, standing in until a plugin registers a detector for the driver.

    ``markers`` are tried in order; the first regex found in the last ``tail`` non-blank lines gives the state.
    """

    def __init__(self, driver: str, markers: Sequence[tuple[SessionState, str]], tail: int = 40) -> None:
        self.name = f"{driver}-test-markers"
        self.drivers = frozenset({driver})
        self.markers = [(state, re.compile(pattern, re.MULTILINE)) for state, pattern in markers]
        self.tail = tail

    def read(self, observation: Observation) -> StateReading | None:
        lines = [line.rstrip() for line in observation.screen.splitlines() if line.strip()]
        if not lines:
            return StateReading(SessionState.STARTING, 0.6, "screen is empty", self.name)
        text = "\n".join(lines[-self.tail :])
        for state, pattern in self.markers:
            if match := pattern.search(text):
                return StateReading(state, 0.6, f"screen shows {match.group(0)!r}", self.name, SignalSource.SCREEN)
        return None


def detectors_for(
    host: PluginHost, driver: str, markers: Sequence[tuple[SessionState, str]]
) -> tuple[list[StateDetector], bool]:
    """Every detector the plugin host has for ``driver``; the test's markers when only generic ones apply.

    Returns the detectors and whether a plugin's own detector is among them.
    """
    found = [spec.detector for spec in host.state_detectors() if spec.detector.applies_to(driver)]
    from_plugin = any(getattr(d, "name", "") not in GENERIC_DETECTORS for d in found)
    if os.environ.get("IMCODES_AGENT_TESTS_DETECTORS") == "markers":  # to tell a CLI change from a detector bug
        from_plugin = False
    if from_plugin:
        return found, True
    pane_life = [d for d in found if getattr(d, "name", "") == "pane-life"]
    return [*pane_life, MarkerDetector(driver, markers)], False


def processes_with_home(home: Path) -> list[int]:
    """Every process whose environment has HOME=home: what the agent (and its helpers) still run."""
    marker = f"HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def zombie_exit(pid: int) -> tuple[int | None, int | None] | None:
    """(status, signal) of a zombie from /proc/PID/stat (its last field is the waitpid status); None if alive."""
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] != "Z":
        return None
    code = int(fields[-1])
    return (None, code & 0x7F) if code & 0x7F else ((code >> 8) & 0xFF, None)


def describe_process(pid: int) -> str:
    try:
        status = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return "(gone)"
    return f"[{status}] {argv[:150]}"


def stop_processes_with_home(home: Path, grace: float = 3.0) -> list[int]:
    """Wait up to ``grace`` seconds for them to exit by themselves, then SIGKILL the rest; the pids killed."""
    deadline = time.monotonic() + grace
    while (left := processes_with_home(home)) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left
