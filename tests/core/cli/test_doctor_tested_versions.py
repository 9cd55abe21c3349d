"""``imcodes doctor`` compares each installed agent CLI with the versions its driver was tested against.

The CLIs are real programs (shell scripts printing a version) in a temporary agent-CLI folder; the drivers are
registered through a real plugin host, either a toy plugin or the first-party plugins installed in the workspace.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from imcodes_core.cli import make_cli
from imcodes_core.cli.doctor import AGENT_CLIS, Mark, check_agent_clis, driver_clis, version_number
from imcodes_core.drivers import ProcessDriver
from imcodes_core.hookspecs import hookimpl
from imcodes_core.host import PluginHost, PluginSettings, make_plugin_host
from imcodes_core.specs import AgentDriverSpec

ADVICE = "state detection may be wrong \u2014 run scripts/install-agent-clis.sh or report"
FIRST_PARTY = ("claude", "codex", "gemini", "opencode", "qwen", "openclaw")


def write_program(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / name
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(0o755)
    return program


@pytest.fixture
def agent_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The agent-CLI folder's bin/; PATH holds only tmux's folder, so no CLI of this machine is found."""
    folder = tmp_path / "agent-clis"
    monkeypatch.setenv("IMCODES_AGENT_CLI_DIR", str(folder))
    monkeypatch.setenv("IMCODES_HOME", str(tmp_path / "home"))
    tmux = shutil.which("tmux")
    monkeypatch.setenv("PATH", str(Path(tmux).parent) if tmux else str(tmp_path / "empty"))
    for setting in FIRST_PARTY:
        monkeypatch.delenv(f"IMCODES_{setting.upper()}_BINARY", raising=False)
    return folder / "bin"


class ToyDriver(ProcessDriver):
    name = "toy"


class ToyPlugin:
    def __init__(self, executable: str, cli: str | None = "toy-agent", tested: tuple[str, ...] = ("1.2.0",)):
        self.executable, self.cli, self.tested = executable, cli, tested

    @hookimpl
    def imcodes_agent_drivers(self) -> list[AgentDriverSpec]:
        driver = ToyDriver()
        driver.executable = self.executable
        return [AgentDriverSpec(name="toy", driver=driver, cli=self.cli, tested_versions=self.tested)]


def toy_host(plugin: ToyPlugin) -> PluginHost:
    host = make_plugin_host(PluginSettings(strict=True), load_entry_points=False)
    host.register(plugin, "toy", distribution="imcodes-toy")
    return host


def checks_for(host: PluginHost) -> dict[str, object]:
    return {c.name: c for c in check_agent_clis(dict(os.environ), driver_clis(host))}


def test_version_numbers_are_read_from_what_the_clis_really_print() -> None:
    # the answers of the pinned CLIs, as printed on this machine
    assert version_number("2.1.331 (Claude Code)") == "2.1.331"
    assert version_number("codex-cli 0.169.0") == "0.169.0"
    assert version_number("OpenClaw 2026.9.6 (eb377ac)") == "2026.9.6"
    assert version_number("v1.18.33") == "1.18.33"
    assert version_number("1.0.0-beta.2") == "1.0.0-beta.2"
    assert version_number("unknown") is None and version_number("build abc1.2") is None


def test_a_tested_version_is_ok_and_names_the_driver(agent_bin: Path) -> None:
    write_program(agent_bin, "toy-agent", 'echo "1.2.0 (Toy)"')
    check = checks_for(toy_host(ToyPlugin("toy-agent")))["toy-agent"]
    assert check.mark is Mark.OK, check
    assert check.detail == f"1.2.0 (Toy) ({agent_bin / 'toy-agent'}) \u2014 driver toy: tested version"
    assert check.data["drivers"] == [{"driver": "toy", "tested_versions": ["1.2.0"], "tested": True}]


def test_an_untested_version_warns_with_what_was_tested_and_what_to_do(agent_bin: Path) -> None:
    write_program(agent_bin, "toy-agent", "echo toy-agent 1.3.0")
    check = checks_for(toy_host(ToyPlugin("toy-agent", tested=("1.1.0", "1.2.0"))))["toy-agent"]
    assert check.mark is Mark.WARN
    assert f"driver toy: untested version 1.3.0 (tested: 1.1.0, 1.2.0); {ADVICE}" in check.detail
    assert check.hint == "install a tested version of toy-agent"
    assert check.data["version"] == "1.3.0" and check.data["drivers"][0]["tested"] is False


def test_not_installed_says_which_driver_needs_it(agent_bin: Path) -> None:
    check = checks_for(toy_host(ToyPlugin("toy-agent")))["toy-agent"]
    assert check.mark is Mark.WARN and check.detail == "not installed (needed by driver toy)"
    assert check.data["path"] is None


def test_an_installed_cli_without_a_driver_is_reported_as_such(agent_bin: Path) -> None:
    write_program(agent_bin, "claude", 'echo "2.1.331 (Claude Code)"')
    checks = checks_for(toy_host(ToyPlugin("toy-agent")))  # no claude plugin in this host
    assert set(checks) == {*AGENT_CLIS, "toy-agent"}
    assert checks["claude"].mark is Mark.OK and checks["claude"].detail.endswith("; no driver uses it")
    assert (
        checks["codex"].mark is Mark.WARN and checks["codex"].detail == "not installed (optional: no driver uses it)"
    )


def test_a_driver_pointed_at_another_path_is_probed_there_and_shown_under_its_cli(
    tmp_path: Path, agent_bin: Path
) -> None:
    elsewhere = write_program(tmp_path / "opt", "toy-nightly", "echo 1.2.0")
    write_program(agent_bin, "toy-agent", "echo 0.1.0")  # on the search path, but not what the driver launches
    check = checks_for(toy_host(ToyPlugin(str(elsewhere))))["toy-agent"]
    assert check.mark is Mark.OK and str(elsewhere) in check.detail and check.data["command"] == str(elsewhere)


def test_a_warning_printed_before_the_version_is_skipped(agent_bin: Path) -> None:
    # Codex prints this when it cannot write helper binaries, before "codex-cli 0.169.0"
    write_program(agent_bin, "toy-agent", "echo 'WARNING: could not create PATH aliases' >&2; echo toy 1.2.0")
    check = checks_for(toy_host(ToyPlugin("toy-agent")))["toy-agent"]
    assert check.mark is Mark.OK and check.data["version_output"] == "toy 1.2.0"


def test_a_driver_without_tested_versions_or_without_a_version_number(agent_bin: Path) -> None:
    write_program(agent_bin, "toy-agent", "echo dev build")
    no_number = checks_for(toy_host(ToyPlugin("toy-agent")))["toy-agent"]
    assert no_number.mark is Mark.WARN and f"no version number in the answer; {ADVICE}" in no_number.detail
    undeclared = checks_for(toy_host(ToyPlugin("toy-agent", cli=None, tested=())))["toy-agent"]
    assert undeclared.mark is Mark.OK and "driver toy: declares no tested versions" in undeclared.detail


def test_the_first_party_drivers_against_their_pins_and_one_older_cli(agent_bin: Path) -> None:
    host = make_plugin_host(PluginSettings(strict=True))
    declared = {d.cli: d for d in driver_clis(host)}
    assert set(FIRST_PARTY) <= set(declared), declared
    for cli in FIRST_PARTY:
        pin = declared[cli].tested_versions[-1]
        write_program(agent_bin, cli, f"echo {pin}" if cli != "codex" else "echo codex-cli 0.160.0")
    checks = checks_for(host)
    for cli in FIRST_PARTY:
        assert checks[cli].data["drivers"][0]["driver"] == cli
        if cli != "codex":
            assert checks[cli].mark is Mark.OK and f"driver {cli}: tested version" in checks[cli].detail
    codex = checks["codex"]
    pinned = declared["codex"].tested_versions[-1]
    assert codex.mark is Mark.WARN
    assert f"untested version 0.160.0 (tested: {', '.join(declared['codex'].tested_versions)}); {ADVICE}" in (
        codex.detail
    )
    assert codex.hint == f"install a tested version: npm install -g @openai/codex@{pinned}"


def test_the_doctor_command_shows_the_verdicts_as_text_and_json(agent_bin: Path) -> None:
    host = make_plugin_host(PluginSettings())
    pins = {d.cli: d.tested_versions[-1] for d in driver_clis(host) if d.tested_versions}
    write_program(agent_bin, "claude", f'echo "{pins["claude"]} (Claude Code)"')
    write_program(agent_bin, "gemini", "echo 0.1.0")
    runner = CliRunner()
    human = runner.invoke(make_cli(host), ["doctor"])
    assert "[ok  ] claude" in human.output and "driver claude: tested version" in human.output, human.output
    assert "[warn] gemini" in human.output and f"untested version 0.1.0 (tested: {pins['gemini']})" in human.output
    assert "[warn] codex" in human.output and "not installed (needed by driver codex)" in human.output
    report = json.loads(runner.invoke(make_cli(host), ["doctor", "--json"]).output)
    rows = {c["name"]: c for c in report["checks"]}
    assert "data" not in rows["tmux"]  # only the agent rows carry structured facts
    assert rows["claude"]["mark"] == "ok" and rows["claude"]["data"]["version"] == pins["claude"]
    assert rows["gemini"]["mark"] == "warn" and rows["gemini"]["data"]["drivers"] == [
        {"driver": "gemini", "tested_versions": [pins["gemini"]], "tested": False}
    ]
    assert rows["codex"]["data"]["path"] is None
