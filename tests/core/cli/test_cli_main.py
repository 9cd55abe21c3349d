"""The ``imcodes`` group: sections, plugin commands, lazy imports, the daemon command."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from imcodes_core.cli import make_cli
from imcodes_core.cli.daemon import run_daemon
from imcodes_core.hookspecs import hookimpl
from imcodes_core.host import PluginError, PluginSettings, make_plugin_host
from imcodes_core.specs import CommandSpec

REPO = Path(__file__).resolve().parents[3]


@click.command("hello")
@click.argument("name", default="world")
def hello_command(name: str) -> None:
    """Say hello."""
    click.echo(f"hello, {name}")


@click.command("doctor")
def impostor_doctor() -> None:
    """A plugin's doctor that must not replace the core's."""
    click.echo("impostor")


def greeter_plugin() -> types.ModuleType:
    plugin = types.ModuleType("greeter")

    def imcodes_cli_commands() -> list[CommandSpec]:
        return [
            CommandSpec(name="hello", command=hello_command, section="Greetings"),
            CommandSpec(name="doctor", command=impostor_doctor),
        ]

    plugin.imcodes_cli_commands = hookimpl(imcodes_cli_commands)  # type: ignore[attr-defined]
    return plugin


def test_help_has_sections_with_core_plugin_and_server_commands() -> None:
    result = CliRunner().invoke(make_cli(make_plugin_host(PluginSettings())), ["--help"])
    assert result.exit_code == 0, result.output
    text = result.output
    for heading in ("Core:", "Plugins:", "Server:"):
        assert heading in text
    assert text.index("Core:") < text.index("doctor") < text.index("daemon") < text.index("Plugins:")
    assert text.index("Server:") < text.index("login-link")


def test_server_commands_come_from_the_server_plugin() -> None:
    cli = make_cli(make_plugin_host(PluginSettings()))
    result = CliRunner().invoke(cli, ["up", "--help"])
    assert result.exit_code == 0, result.output
    assert "Start the database, the server and a local daemon" in result.output
    assert "--no-daemon" in result.output


def test_a_plugin_command_runs_in_its_section_and_cannot_replace_a_core_command() -> None:
    host = make_plugin_host(PluginSettings(), load_entry_points=False)
    host.register(greeter_plugin(), "greeter", distribution="imcodes-greeter")
    cli = make_cli(host)
    runner = CliRunner()
    assert runner.invoke(cli, ["hello", "imcodes"]).output == "hello, imcodes\n"
    help_text = runner.invoke(cli, ["--help"]).output
    assert "Greetings:" in help_text and help_text.index("Greetings:") < help_text.index("hello")
    doctor_help = runner.invoke(cli, ["doctor", "--help"]).output
    assert "Check tmux" in doctor_help and "impostor" not in doctor_help


def test_strict_mode_rejects_a_plugin_command_clash() -> None:
    host = make_plugin_host(PluginSettings(strict=True), load_entry_points=False)
    host.register(greeter_plugin(), "greeter", distribution="imcodes-greeter")
    with pytest.raises(PluginError, match="'doctor' clashes"):
        make_cli(host)


def test_help_imports_neither_the_server_app_nor_the_daemon() -> None:
    probe = (
        "import sys\n"
        "from imcodes_core.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('quart', 'hypercorn', 'tortoise', 'asyncpg', 'imcodes_server.app', 'imcodes_server.launcher',"
        " 'imcodes_core.daemon')\n"
        "print('LOADED=' + ','.join(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert "Usage: imcodes" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "LOADED=", out.stdout


def test_python_dash_m_runs_the_same_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "imcodes_core.cli", "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert {"builtin-shell", "builtin-screen"} <= {r["name"] for r in json.loads(out.stdout)}


def test_daemon_command_runs_the_daemon_package_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_daemon executes ``<package>/__main__.py`` as ``python -m`` would, with the CLI's arguments."""
    package = tmp_path / "site" / "tmp_daemon_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    record = tmp_path / "argv.json"
    (package / "__main__.py").write_text(
        "import json, pathlib, sys\n"
        "def main():\n"
        f"    pathlib.Path({str(record)!r}).write_text(json.dumps(sys.argv[1:]))\n"
        "if __name__ == '__main__':\n    main()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr("imcodes_core.cli.daemon.DAEMON_PACKAGE", "tmp_daemon_pkg")
    saved = list(sys.argv)
    try:
        run_daemon(["--home", str(tmp_path / "home")])
    finally:
        sys.modules.pop("tmp_daemon_pkg", None)
    assert sys.argv == saved
    assert json.loads(record.read_text()) == ["--home", str(tmp_path / "home")]


def test_daemon_command_without_a_daemon_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("imcodes_core.cli.daemon.DAEMON_PACKAGE", "imcodes_core.no_such_daemon")
    result = CliRunner().invoke(make_cli(make_plugin_host(PluginSettings(), load_entry_points=False)), ["daemon"])
    assert result.exit_code == 1
    assert "Error: the daemon is not part of this imcodes-core" in result.output
