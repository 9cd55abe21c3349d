"""The agent CLIs the state-accuracy bench runs: where they are installed, their homes, their ground-truth markers.

Copied from tests/agents (the bench imports nothing from tests/): the install folder and version check of
``support.installed_cli``, the ``agent_world`` fixture's folders and environment, each CLI's offline home as its
daemon test prepares it (without the user's own hooks those tests add to check they survive), and the screen
markers of each ``test_<cli>.py``, which here only TELL the ground truth (the daemon never sees them).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from imcodes_core.states import SessionState as S
from imcodes_core.testing.model_endpoint import FakeModelEndpoint

Markers = Sequence[tuple[S, str]]

# Codex's default sandbox runs a write in the project without asking: this rule makes it ask for "sleep 1 && ...".
CODEX_RULES = (
    'prefix_rule(pattern = ["sleep"], decision = "prompt", justification = "imcodes bench", match = ["sleep 1"])\n'
)


class CliMissingError(Exception):
    """The CLI is not installed (or not at the pinned version): the bench skips it, saying why."""


@dataclass(frozen=True)
class World:
    """Where one CLI runs: its HOME, its project folder, the environment the daemon's tmux server starts with."""

    home: Path
    project: Path
    env: dict[str, str]


def agent_cli_dir() -> Path:
    return Path(os.environ.get("IMCODES_AGENT_CLI_DIR") or Path.home() / ".cache/imcodes/agent-clis")


def installed_cli(name: str) -> tuple[Path, str]:
    """The CLI's command and version from scripts/install-agent-clis.sh's folder."""
    folder = agent_cli_dir()
    versions = folder / "versions.json"
    if not versions.is_file():
        raise CliMissingError(f"agent CLIs not installed: no {versions} (run scripts/install-agent-clis.sh)")
    info = json.loads(versions.read_text(encoding="utf-8")).get("clis", {}).get(name)
    if info is None:
        raise CliMissingError(f"{name} is not installed in {folder} (run scripts/install-agent-clis.sh {name})")
    command = folder / "bin" / str(info["command"])
    if not command.exists():
        raise CliMissingError(f"{name} is listed in {versions} but {command} is missing")
    if info.get("version") != info.get("pinned"):
        raise CliMissingError(f"{name} {info.get('version')} is installed but the bench needs {info.get('pinned')}")
    return command, str(info["version"])


def make_world(root: Path, endpoint: FakeModelEndpoint) -> World:
    """The tests' ``agent_world``: a fresh HOME, XDG folders and TMPDIR under ``root``, the fake endpoint's keys."""
    home, project = root / "home", root / "project"
    for folder in (home, project, home / ".config", home / ".cache", home / ".local/share", root / "tmp"):
        folder.mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(home),
        "PATH": f"{agent_cli_dir() / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "TMPDIR": str(root / "tmp"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "IMCODES_SESSION": "agent-cli-bench",
        "NO_UPDATE_NOTIFIER": "1",
        **endpoint.agent_env(),
    }
    return World(home, project, env)


# -- each CLI's home, as its daemon test prepares it; returns the daemon's extra environment -----------------------


def _claude(world: World, endpoint: FakeModelEndpoint) -> dict[str, str]:
    """Onboarding done, the fake key approved, the project trusted: Claude starts straight at its input box."""
    state = {
        "hasCompletedOnboarding": True,
        "customApiKeyResponses": {"approved": [world.env["ANTHROPIC_API_KEY"][-20:]], "rejected": []},
        "projects": {str(world.project): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}},
    }
    (world.home / ".claude.json").write_text(json.dumps(state), encoding="utf-8")
    return {}


def _codex(world: World, endpoint: FakeModelEndpoint) -> dict[str, str]:
    from imcodes_codex.config import offline_config  # type: ignore[import-untyped]

    codex = world.home / ".codex"
    (codex / "rules").mkdir(parents=True)
    (codex / "rules" / "default.rules").write_text(CODEX_RULES, encoding="utf-8")
    (codex / "config.toml").write_text(offline_config(f"{endpoint.url}/v1", [str(world.project)]), encoding="utf-8")
    return {}


def _gemini(world: World, endpoint: FakeModelEndpoint) -> dict[str, str]:
    from imcodes_gemini.config import offline_settings, trusted_folders  # type: ignore[import-untyped]

    gemini = world.home / ".gemini"
    gemini.mkdir()
    (gemini / "settings.json").write_text(json.dumps(offline_settings(), indent=3) + "\n", encoding="utf-8")
    (gemini / "trustedFolders.json").write_text(json.dumps(trusted_folders([str(world.project)])), encoding="utf-8")
    return {}


def _qwen(world: World, endpoint: FakeModelEndpoint) -> dict[str, str]:
    return {"IMCODES_QWEN_BASE_URL": f"{endpoint.url}/v1", "IMCODES_QWEN_MODEL": endpoint.models[0]}


def _opencode(world: World, endpoint: FakeModelEndpoint) -> dict[str, str]:
    from imcodes_opencode.config import offline_config  # type: ignore[import-untyped]

    folder = world.home / ".config" / "opencode"
    folder.mkdir(parents=True)
    (folder / "opencode.json").write_text(json.dumps(offline_config(f"{endpoint.url}/v1")), encoding="utf-8")
    return {"IMCODES_OPENCODE_OFFLINE": "1"}


def _openclaw(world: World, endpoint: FakeModelEndpoint) -> dict[str, str]:
    """~/.openclaw/openclaw.json: a custom OpenAI-compatible provider at the fake endpoint, its model the default."""
    model = {"id": "fake-model", "name": "fake-model", "contextWindow": 128000, "maxTokens": 8192}
    base_url, key = f"{endpoint.url}/v1", world.env["OPENAI_API_KEY"]
    provider = {"baseUrl": base_url, "apiKey": key, "api": "openai-completions", "models": [model]}
    settings = {
        "models": {"providers": {"fake": provider}},
        "agents": {"defaults": {"model": {"primary": "fake/fake-model"}, "workspace": str(world.project)}},
    }
    (world.home / ".openclaw").mkdir()
    (world.home / ".openclaw" / "openclaw.json").write_text(json.dumps(settings), encoding="utf-8")
    return {}


# -- ground-truth screen markers (tests/agents/test_<cli>.py's MARKERS) -------------------------------------------

CLAUDE_MARKERS: Markers = [
    (S.EXITED, r"Resume this session with:"),
    (S.ERROR, r"Unable to connect to Anthropic services|Invalid API key"),
    (S.SETUP, r"Do you trust the files in this folder|Select login method|Choose the text style"),
    (S.WAITING_PERMISSION, r"Do you want to proceed\?"),
    (S.WORKING, r"esc to interrupt"),
    (S.IDLE, r"^❯[\s\xa0]*$"),
]
CODEX_MARKERS: Markers = [
    (S.EXITED, r"To continue this session, run:"),
    (S.SETUP, r"Trust this folder\?|Sign in with ChatGPT|Provide your own API key"),
    (S.WAITING_PERMISSION, r"Would you like to run the following command\?|Press enter to confirm or esc to cancel"),
    (S.WORKING, r"esc to interrupt"),
    # While the answer streams Codex shows no status line: the last prompt has output but no "Worked for" yet.
    (S.WORKING, r"^› (?!Ask Codex).*\n(?:(?!\s*Worked for ).*\n)*?› Ask Codex"),
    (S.IDLE, r"\? for shortcuts"),
]
GEMINI_MARKERS: Markers = [
    (S.EXITED, r"To resume this session: gemini --resume|Agent powering down"),
    (S.SETUP, r"Do you trust this folder|How would you like to authenticate|Enter Gemini API Key"),
    (S.WAITING_PERMISSION, r"Allow execution of|Apply this change\?"),
    (S.WORKING, r"esc to cancel"),
    (S.WORKING, r"Queued \(press ↑ to edit\)"),
    (S.STARTING, r"Prompts will be queued\.\n.*\? for shortcuts$"),
    (S.IDLE, r"Type your message or @path/to/file"),
]
QWEN_MARKERS: Markers = [
    (S.EXITED, r"Agent powering down|To resume this session"),
    (S.SETUP, r"Select a provider|How would you like to authenticate|Enter to select, ↑↓ to navigate"),
    (S.WAITING_PERMISSION, r"Waiting for user confirmation|Allow execution of"),
    (S.WORKING, r"esc to cancel"),
    (S.IDLE, r"Type your message or @path/to/file"),
]
OPENCODE_MARKERS: Markers = [
    (S.WAITING_PERMISSION, r"Permission required"),
    (S.WORKING, r"esc interrupt"),
    # between a tool's end and the next model request the footer looks idle; the last step ("▣  Build · model ·
    # 2.3s") then ends in a tool block ("┃ ...") instead of answer text: the agent loop goes on
    (S.WORKING, r"^\s*┃.*\n\s*▣ [^\n]*\n(?![\s\S]*▣ )"),
    (S.IDLE, r"ctrl\+p commands"),
]
OPENCLAW_MARKERS: Markers = [
    (S.STARTING, r"starting up •"),
    (S.WORKING, r"• \d+s \| local ready"),
    (S.ERROR, r"local ready \| error"),
    (S.IDLE, r"local ready \| idle"),
]


class ScreenMarkers:
    """The first marker found in the last ``tail`` non-blank lines gives the state; an empty screen is starting."""

    def __init__(self, markers: Markers, tail: int = 40) -> None:
        self.markers = [(state, re.compile(pattern, re.MULTILINE)) for state, pattern in markers]
        self.tail = tail

    def read(self, screen: str) -> S | None:
        lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
        if not lines:
            return S.STARTING
        text = "\n".join(lines[-self.tail :])
        return next((state for state, pattern in self.markers if pattern.search(text)), None)


@dataclass(frozen=True)
class Recipe:
    """One CLI in the daemon: its driver, home, truth markers, approval keys, exit line and machine channels."""

    cli: str
    prepare: Callable[[World, FakeModelEndpoint], dict[str, str]]  # writes the home; returns daemon env
    markers: Markers
    channels: str  # what reports to the daemon besides the screen (for the report)
    approve: str = "\r"  # keys typed into the pane; "" = no tool turns (the fake cannot call this CLI's tool)
    exit_line: str = "/quit"
    ready_timeout: float = 60.0
    turn_timeout: float = 40.0


RECIPES = {
    "claude": Recipe("claude", _claude, CLAUDE_MARKERS, "hooks + status file", exit_line="/exit"),
    "codex": Recipe("codex", _codex, CODEX_MARKERS, "hooks + notify", approve="y"),
    "gemini": Recipe("gemini", _gemini, GEMINI_MARKERS, "hooks (own GEMINI_CLI_HOME)"),
    "qwen": Recipe("qwen", _qwen, QWEN_MARKERS, "--json-file"),
    "opencode": Recipe("opencode", _opencode, OPENCODE_MARKERS, "SSE /event", exit_line="/exit"),
    "openclaw": Recipe("openclaw", _openclaw, OPENCLAW_MARKERS, "none (screen only)", approve="", exit_line="/exit"),
}


# -- cleanup: agents leave helpers behind (Codex's app-server, OpenCode's server) ----------------------------------


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


def stop_processes_with_home(home: Path, grace: float = 3.0) -> list[int]:
    """Wait up to ``grace`` seconds for them to exit by themselves, then SIGKILL the rest; the pids killed."""
    deadline = time.monotonic() + grace
    while (left := processes_with_home(home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left
