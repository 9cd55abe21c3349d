"""``imcodes doctor``: is this machine ready? tmux, agent CLIs, plugins, the data directory and the server link."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

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
UNTESTED_ADVICE = "state detection may be wrong \u2014 run scripts/install-agent-clis.sh or report"
# the first dotted number in a `--version` answer: "2.1.331 (Claude Code)", "codex-cli 0.169.0", "OpenClaw 2026.9.6"
_VERSION_NUMBER = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+(?:-[0-9A-Za-z.]+)?)")


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
    data: Mapping[str, Any] = field(default_factory=dict)  # structured facts for --json (empty: left out)


@dataclass(frozen=True, slots=True)
class DriverCli:
    """A CLI a registered driver launches and the versions that driver was tested against."""

    driver: str
    cli: str  # the CLI's name, the row doctor shows (``claude``)
    command: str  # what is looked up on PATH: the driver's executable, which a setting may point elsewhere
    tested_versions: tuple[str, ...] = ()


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
    # some CLIs print a warning before their version (Codex, when it cannot write its home): take the version line
    every = [line.strip() for line in f"{out.stdout}\n{out.stderr}".splitlines() if line.strip()]
    return Found(path, next((line for line in every if version_number(line)), lines[0] if lines else "unknown"))


def version_number(text: str) -> str | None:
    """The version number in a ``--version`` answer, without a leading ``v``; None when there is none."""
    match = _VERSION_NUMBER.search(text)
    return match.group(1) if match else None


def check_tmux(env: Mapping[str, str]) -> Check:
    found = probe("tmux", env, ("-V",))
    hint = "install tmux (Debian/Ubuntu: apt-get install tmux; macOS: brew install tmux)"
    if found is None:
        return Check("system", "tmux", Mark.FAIL, "not found on PATH: agents cannot run in panes", hint)
    if found.version is None:
        return Check("system", "tmux", Mark.FAIL, f"{found.path}: {found.problem}", hint)
    return Check("system", "tmux", Mark.OK, f"{found.version} ({found.path})")


def check_agent_clis(env: Mapping[str, str], drivers: Sequence[DriverCli] = ()) -> list[Check]:
    """Every known agent CLI and every CLI a driver launches, probed concurrently, judged against the drivers."""
    users: dict[str, list[DriverCli]] = {cli: [] for cli in AGENT_CLIS}
    commands = {cli: cli for cli in AGENT_CLIS}
    for driver in drivers:
        users.setdefault(driver.cli, []).append(driver)
        if len(users[driver.cli]) == 1:  # the first driver naming a CLI says where it is (a setting may move it)
            commands[driver.cli] = driver.command
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        found = dict(zip(commands, pool.map(lambda cli: probe(commands[cli], env), commands), strict=True))
    return [judge_cli(cli, commands[cli], found[cli], users[cli]) for cli in commands]


def judge_cli(cli: str, command: str, found: Found | None, users: Sequence[DriverCli]) -> Check:
    """One CLI's row: not installed, no answer, no driver, or each driver's verdict on the installed version."""
    tested = list(dict.fromkeys(v for u in users for v in u.tested_versions))  # declared order: the pin comes last
    package = AGENT_CLIS.get(cli)
    install = f"npm install -g {package}{'@' + tested[-1] if tested else ''}" if package else ""
    names = ", ".join(u.driver for u in users)
    data: dict[str, Any] = {"cli": cli, "command": command, "path": None, "version": None, "version_output": None}
    data["drivers"] = []
    if found is None:
        who = f"needed by driver {names}" if users else "optional: no driver uses it"
        return Check("agents", cli, Mark.WARN, f"not installed ({who})", install or f"install {command}", data)
    data["path"] = found.path
    if found.version is None:
        return Check("agents", cli, Mark.WARN, f"{found.path}: {found.problem}", install or f"check {command}", data)
    number = version_number(found.version)
    data.update(version=number, version_output=found.version)
    shown = f"{found.version} ({found.path})"
    if not users:
        return Check("agents", cli, Mark.OK, f"{shown}; no driver uses it", "", data)
    verdicts, mark = [], Mark.OK
    for user in users:
        accepted = {v.removeprefix("v") for v in user.tested_versions}
        ok = None if not accepted or number is None else number in accepted
        data["drivers"].append({"driver": user.driver, "tested_versions": list(user.tested_versions), "tested": ok})
        if not accepted:
            verdicts.append(f"driver {user.driver}: declares no tested versions")
        elif number is None:
            mark = Mark.WARN
            verdicts.append(f"driver {user.driver}: no version number in the answer; {UNTESTED_ADVICE}")
        elif ok:
            verdicts.append(f"driver {user.driver}: tested version")
        else:
            mark = Mark.WARN
            listed = ", ".join(user.tested_versions)
            verdicts.append(f"driver {user.driver}: untested version {number} (tested: {listed}); {UNTESTED_ADVICE}")
    hint = f"install a tested version: {install}" if install else f"install a tested version of {command}"
    if mark is Mark.OK:
        hint = ""
    return Check("agents", cli, mark, f"{shown} \u2014 {'; '.join(verdicts)}", hint, data)


def driver_clis(host: PluginHost) -> list[DriverCli]:
    """The CLI each registered driver launches (its spec's ``cli``, else ``executable``) and its tested versions."""
    clis = []
    for spec in host.agent_drivers():
        executable = getattr(spec.driver, "executable", None)
        command = executable if isinstance(executable, str) and executable else spec.cli
        if not command:
            continue  # built-ins and transports that launch no CLI of their own
        tested = spec.tested_versions or getattr(spec.driver, "tested_versions", ())
        versions = tuple(v for v in tested if isinstance(v, str)) if isinstance(tested, tuple | list) else ()
        clis.append(DriverCli(spec.name, spec.cli or command, command, versions))
    return clis


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
        agents = pool.submit(check_agent_clis, env, driver_clis(host))
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


def check_as_json(check: Check) -> dict[str, Any]:
    record = {**asdict(check), "mark": str(check.mark)}
    if not check.data:
        del record["data"]
    return record


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor_command(ctx: click.Context, as_json: bool) -> None:
    """Check tmux, the agent CLIs, plugins, the data directory and the server link. Exit 1 on a failure."""
    from imcodes_core.cli import host_from_context

    checks = run_checks(host_from_context(ctx), os.environ)
    failed = any(c.mark is Mark.FAIL for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": not failed, "checks": [check_as_json(c) for c in checks]}, indent=2))
    else:
        click.echo(format_report(checks))
    if failed:
        ctx.exit(1)
