"""``imcodes doctor``: is this machine ready? tmux, agent CLIs, plugins, the data directory and the server link."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

import click

from imcodes_core.host import PluginHost, PluginStatus
from imcodes_core.redaction import SecretRegistry, redact

VERSION_TIMEOUT = 5.0  # seconds for each `<cli> --version`
HEALTH_TIMEOUT = 2.0  # seconds for the server's /api/health
AGENT_CLIS: dict[str, str] = {  # command -> the npm package that provides it
    "claude": "@anthropic-ai/claude-code",
    "codex": "@openai/codex",
    "gemini": "@google/gemini-cli",
    "opencode": "opencode-ai",
    "qwen": "@qwen-code/qwen-code",
    "openclaw": "openclaw",
}


class Mark(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    section: str
    name: str
    mark: Mark
    detail: str
    hint: str = ""


@dataclass(frozen=True, slots=True)
class Found:
    """A program found on the search path and what its ``--version`` said (None: it did not answer)."""

    path: str
    version: str | None
    problem: str = ""


def imcodes_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("IMCODES_HOME") or Path.home() / ".imcodes").expanduser()


def agent_cli_dir(env: Mapping[str, str]) -> Path:
    """Where scripts/install-agent-clis.sh puts node and the agent CLIs."""
    return Path(env.get("IMCODES_AGENT_CLI_DIR") or Path.home() / ".cache" / "imcodes" / "agent-clis").expanduser()


def search_path(env: Mapping[str, str]) -> str:
    """PATH, then the agent CLI folder's ``bin`` and ``node_modules/.bin`` (locally installed agent CLIs)."""
    local = agent_cli_dir(env)
    parts = [env.get("PATH", ""), str(local / "bin"), str(local / "node_modules" / ".bin")]
    return os.pathsep.join(p for p in parts if p)


def probe(command: str, env: Mapping[str, str], args: Sequence[str] = ("--version",)) -> Found | None:
    """Find ``command`` and ask its version; never raises, never waits longer than VERSION_TIMEOUT."""
    path = shutil.which(command, path=search_path(env))
    if path is None:
        return None
    try:
        out = subprocess.run(
            [path, *args],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=VERSION_TIMEOUT,
            stdin=subprocess.DEVNULL,
            env={**env, "PATH": search_path(env)},  # a node shim finds node beside it
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Found(path, None, f"`{command} {' '.join(args)}` did not answer within {VERSION_TIMEOUT:.0f} s")
    except OSError as exc:
        return Found(path, None, f"cannot run it: {exc.strerror or exc}")
    lines = [line.strip() for line in (out.stdout or out.stderr).splitlines() if line.strip()]
    if out.returncode != 0:
        return Found(path, None, f"`{command} {' '.join(args)}` exited {out.returncode}: {lines[0] if lines else ''}")
    return Found(path, lines[0] if lines else "unknown")


def check_tmux(env: Mapping[str, str]) -> Check:
    found = probe("tmux", env, ("-V",))
    hint = "install tmux (Debian/Ubuntu: apt-get install tmux; macOS: brew install tmux)"
    if found is None:
        return Check("system", "tmux", Mark.FAIL, "not found on PATH: agents cannot run in panes", hint)
    if found.version is None:
        return Check("system", "tmux", Mark.FAIL, f"{found.path}: {found.problem}", hint)
    return Check("system", "tmux", Mark.OK, f"{found.version} ({found.path})")


def check_agent_clis(env: Mapping[str, str], extra: Mapping[str, str] | None = None) -> list[Check]:
    """Every known agent CLI (and any a plugin's driver names: command -> install hint), probed concurrently."""
    hints = {command: f"npm install -g {package}" for command, package in AGENT_CLIS.items()} | dict(extra or {})
    with ThreadPoolExecutor(max_workers=len(hints)) as pool:
        results = dict(zip(hints, pool.map(lambda command: probe(command, env), hints), strict=True))
    checks = []
    for command, found in results.items():
        if found is None:
            checks.append(Check("agents", command, Mark.WARN, "not installed (optional)", hints[command]))
        elif found.version is None:
            checks.append(Check("agents", command, Mark.WARN, f"{found.path}: {found.problem}", hints[command]))
        else:
            checks.append(Check("agents", command, Mark.OK, f"{found.version} ({found.path})"))
    return checks


def driver_executables(host: PluginHost) -> dict[str, str]:
    """CLIs that plugin drivers launch beyond the known ones: command -> where the hint says it comes from."""
    extra = {}
    for spec in host.agent_drivers():
        executable = getattr(spec.driver, "executable", None)
        if isinstance(executable, str) and executable and executable not in AGENT_CLIS:
            extra[executable] = f"install it (the {spec.name} driver launches it)"
    return extra


def check_plugins(host: PluginHost) -> Check:
    records = host.plugins
    broken = [r for r in records if r.status is PluginStatus.ERROR]
    disabled = [r for r in records if r.status is PluginStatus.DISABLED]
    counts = f"{len(records) - len(broken) - len(disabled)} ok, {len(broken)} error, {len(disabled)} disabled"
    if broken:
        names = ", ".join(f"{r.name} ({r.distribution})" for r in broken)
        return Check("plugins", "plugins", Mark.FAIL, f"{counts}; broken: {names}", "run `imcodes plugins list`")
    if disabled:
        names = ", ".join(r.name for r in disabled)
        return Check("plugins", "plugins", Mark.WARN, f"{counts}; disabled: {names}", "see IMCODES_*_PLUGINS")
    return Check("plugins", "plugins", Mark.OK, counts)


def check_data_dir(home: Path) -> Check:
    if not home.exists():
        parent = next((p for p in home.parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK):
            return Check("data", "data directory", Mark.WARN, f"{home} does not exist yet", "`imcodes up` creates it")
        return Check(
            "data",
            "data directory",
            Mark.FAIL,
            f"{home} does not exist and cannot be created",
            "set IMCODES_HOME to a writable folder",
        )
    if not home.is_dir():
        return Check("data", "data directory", Mark.FAIL, f"{home} is not a directory", "set IMCODES_HOME")
    try:
        with tempfile.NamedTemporaryFile(dir=home, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check(
            "data",
            "data directory",
            Mark.FAIL,
            f"{home} is not writable: {exc.strerror or exc}",
            "fix its permissions or set IMCODES_HOME",
        )
    return Check("data", "data directory", Mark.OK, f"{home} (writable)")


def check_server_link(home: Path) -> list[Check]:
    """link.json names the server this machine is paired with; its token is never shown."""
    path = home / "link.json"
    pair = "run `imcodes up` here, or pair with a server (`imcodes bind URL`)"
    if not path.is_file():
        return [Check("server", "server link", Mark.WARN, f"not paired ({path} is missing)", pair)]
    try:
        link = json.loads(path.read_text(encoding="utf-8"))
        server, token = str(link["server"]).rstrip("/"), str(link.get("token") or "")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [Check("server", "server link", Mark.FAIL, f"{path} is unreadable: {type(exc).__name__}", pair)]
    secrets = SecretRegistry()
    secrets.add(token)
    shown = redact(server, secrets)
    checks = [
        Check(
            "server",
            "server link",
            Mark.OK if token else Mark.FAIL,
            f"{shown} (machine {link.get('machine', '?')}, token {'present' if token else 'missing'})",
            "" if token else pair,
        )
    ]
    checks.append(check_health(server, secrets))
    return checks


def check_health(server: str, secrets: SecretRegistry) -> Check:
    url = f"{server}/api/health"
    shown = redact(url, secrets)
    if not url.startswith(("http://", "https://")):
        return Check("server", "server health", Mark.FAIL, f"{shown}: not an http(s) address", "pair again")
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT) as response:  # noqa: S310 - scheme checked above
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check(
            "server",
            "server health",
            Mark.WARN,
            f"{shown} did not answer within {HEALTH_TIMEOUT:.0f} s ({redact(str(reason), secrets)})",
            "start it with `imcodes up` (or check the address)",
        )
    if status != 200:
        return Check("server", "server health", Mark.WARN, f"{shown} answered HTTP {status}", "check the server")
    return Check("server", "server health", Mark.OK, f"{shown} answers")


def run_checks(host: PluginHost, env: Mapping[str, str]) -> list[Check]:
    home = imcodes_home(env)
    with ThreadPoolExecutor(max_workers=2) as pool:  # the CLI probes and the health request wait in parallel
        agents = pool.submit(check_agent_clis, env, driver_executables(host))
        server = pool.submit(check_server_link, home)
        tmux = check_tmux(env)
        return [tmux, *agents.result(), check_plugins(host), check_data_dir(home), *server.result()]


def format_report(checks: Sequence[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for check in checks:
        lines.append(f"[{check.mark.value:<4}] {check.name:<{width}}  {check.detail}")
    failures = [c for c in checks if c.mark is Mark.FAIL]
    warnings = [c for c in checks if c.mark is Mark.WARN]
    lines.append("")
    lines.append(
        f"{len(checks) - len(failures) - len(warnings)} ok, {len(warnings)} warnings, {len(failures)} failures"
    )
    steps = [c for c in [*failures, *warnings] if c.hint]
    if steps:
        lines.append("next steps:")
        lines.extend(f"  - {c.name}: {c.hint}" for c in steps)
    return "\n".join(lines)


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor_command(ctx: click.Context, as_json: bool) -> None:
    """Check tmux, the agent CLIs, plugins, the data directory and the server link. Exit 1 on a failure."""
    from imcodes_core.cli import host_from_context

    checks = run_checks(host_from_context(ctx), os.environ)
    failed = any(c.mark is Mark.FAIL for c in checks)
    if as_json:
        click.echo(
            json.dumps({"ok": not failed, "checks": [{**asdict(c), "mark": str(c.mark)} for c in checks]}, indent=2)
        )
    else:
        click.echo(format_report(checks))
    if failed:
        ctx.exit(1)
