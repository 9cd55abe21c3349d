"""Worlds for the real ACP agents: the installed CLI, a HOME in tmp_path prepared as the fixtures README says, a
project folder, an environment pointing at the fake model endpoint; everything started is stopped at teardown."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from imcodes_core.testing.model_endpoint import FakeModelEndpoint

TOOL_FILE = "fake_tool_output.txt"  # what the fake model's tool call writes in the project folder
TOOL_MARK = "FAKE_TOOL_OK"


def agent_cli_dir() -> Path:
    return Path(os.environ.get("IMCODES_AGENT_CLI_DIR") or Path.home() / ".cache/imcodes/agent-clis")


def installed_cli(name: str) -> tuple[Path, str]:
    """The CLI's command and version from scripts/install-agent-clis.sh's folder, or skip saying why."""
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


@dataclass(frozen=True, slots=True)
class AcpWorld:
    home: Path
    project: Path
    env: dict[str, str]
    endpoint: FakeModelEndpoint

    @property
    def tool_output(self) -> Path:
        return self.project / TOOL_FILE


def prepare_gemini(world: AcpWorld) -> None:
    folder = world.home / ".gemini"
    folder.mkdir()
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"disableAutoUpdate": True},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
    }
    (folder / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    (folder / "trustedFolders.json").write_text(json.dumps({str(world.project): "TRUST_FOLDER"}), encoding="utf-8")


def prepare_opencode(world: AcpWorld) -> None:
    folder = world.home / ".config" / "opencode"
    folder.mkdir(parents=True)
    model = world.endpoint.models[0]
    config = {
        "provider": {
            "fake": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Fake loopback",
                "options": {"baseURL": f"{world.endpoint.url}/v1", "apiKey": world.env["OPENAI_API_KEY"]},
                "models": {model: {"name": "Fake Model"}},
            }
        },
        "model": f"fake/{model}",
        "small_model": f"fake/{model}",
        "autoupdate": False,
        "share": "disabled",
        "permission": {"bash": "ask", "edit": "ask"},
    }
    (folder / "opencode.json").write_text(json.dumps(config), encoding="utf-8")


# name -> (arguments after the command, how to prepare HOME)
AGENTS: dict[str, tuple[tuple[str, ...], Callable[[AcpWorld], None] | None]] = {
    "gemini": (("--acp",), prepare_gemini),
    "qwen": (("--acp", "--auth-type", "openai", "--approval-mode", "default"), None),
    "opencode": (("acp",), prepare_opencode),
}


@pytest.fixture
def acp_world(tmp_path: Path, fake_model_endpoint: FakeModelEndpoint) -> Iterator[AcpWorld]:
    """A clean HOME, a project, the fake endpoint's environment; sweeps every process left with that HOME."""
    fake_model_endpoint.behaviour = replace(
        fake_model_endpoint.behaviour, tool_command=f"echo {TOOL_MARK} > {TOOL_FILE}"
    )  # writes a file, so every CLI asks before running it
    home, project = tmp_path / "home", tmp_path / "project"
    for folder in (home, project, home / ".config", home / ".cache", home / ".local/share", tmp_path / "tmp"):
        folder.mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(home),
        "PATH": f"{agent_cli_dir() / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp_path / "tmp"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "IMCODES_SESSION": "acp-test",
        "NO_UPDATE_NOTIFIER": "1",
        **fake_model_endpoint.agent_env(),
    }
    yield AcpWorld(home, project, env, fake_model_endpoint)
    stop_processes_with_home(home)


def processes_with_home(home: Path) -> list[int]:
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


def stop_processes_with_home(home: Path, grace: float = 3.0) -> None:
    """What an agent left behind (helpers outside its process group): wait ``grace`` s, then SIGKILL."""
    deadline = time.monotonic() + grace
    while (left := processes_with_home(home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def acp_cli(acp_world: AcpWorld) -> Callable[[str], tuple[list[str], str]]:
    """``acp_cli(name)``: the installed CLI's ACP argv and version, its HOME prepared; skips when not installed."""

    def command(name: str) -> tuple[list[str], str]:
        executable, version = installed_cli(name)
        args, prepare = AGENTS[name]
        if prepare is not None:
            prepare(acp_world)
        return [str(executable), *args], version

    return command
