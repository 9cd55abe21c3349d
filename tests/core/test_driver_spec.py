"""AgentDriverSpec's CLI and tested versions: optional, frozen, validated; a plugin with a bad one is reported."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from imcodes_core.builtins.shell import ShellDriver
from imcodes_core.hookspecs import hookimpl
from imcodes_core.host import PluginError, PluginSettings, PluginStatus, make_plugin_host
from imcodes_core.specs import AgentDriverSpec
from imcodes_core.testing.agent_pins import find_install_script, read_pins

REPO = Path(__file__).resolve().parents[2]


def test_existing_callers_keep_working_and_declare_no_cli() -> None:
    spec = AgentDriverSpec(name="shell", driver=ShellDriver(), title="Shell")
    assert spec.cli is None and spec.tested_versions == ()


def test_a_declared_cli_and_versions_are_frozen() -> None:
    spec = AgentDriverSpec(
        name="toy", driver=ShellDriver(), cli="toy-agent", tested_versions=["1.2.0", "v1.3.0-rc.1"]
    )
    assert spec.cli == "toy-agent" and spec.tested_versions == ("1.2.0", "v1.3.0-rc.1")  # a list becomes a tuple
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.cli = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cli": "claude code"}, "is not a command name"),
        ({"cli": "/usr/bin/claude"}, "is not a command name"),
        ({"cli": ""}, "is not a command name"),
        ({"tested_versions": "2.1.331"}, "must be a tuple of versions"),
        ({"tested_versions": ("latest",)}, "is not a version like 1.2.3"),
        ({"tested_versions": (2,)}, "is not a version like 1.2.3"),
        ({"tested_versions": ("1.0", "1.0")}, "repeats a version"),
    ],
)
def test_invalid_declarations_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AgentDriverSpec(name="toy", driver=ShellDriver(), **fields)  # type: ignore[arg-type]


class BadPlugin:
    @hookimpl
    def imcodes_agent_drivers(self) -> list[AgentDriverSpec]:
        return [AgentDriverSpec(name="bad", driver=ShellDriver(), tested_versions=("newest",))]


def test_a_plugin_declaring_a_bad_version_is_reported_not_loaded() -> None:
    host = make_plugin_host(PluginSettings(), load_entry_points=False)
    record = host.register(BadPlugin(), "bad", distribution="imcodes-bad")
    assert all(spec.name != "bad" for spec in host.agent_drivers())
    assert record.status is PluginStatus.ERROR and "'newest' is not a version" in " ".join(record.errors)
    strict = make_plugin_host(PluginSettings(strict=True), load_entry_points=False)
    strict.register(BadPlugin(), "bad", distribution="imcodes-bad")
    with pytest.raises(PluginError, match="newest"):
        strict.agent_drivers()


def test_the_install_script_pins_are_read_as_written() -> None:
    text = (
        'X=1\nCLIS=(\n  "claude|@anthropic-ai/claude-code|2.1.331|claude|"\n'
        '  "oc|openclaw|2026.9.6|openclaw|--a" # comment\n)\n'
    )
    pins = read_pins(text + '"late|pkg|9.9.9|late|"\n')  # entries after the array are not pins
    assert set(pins) == {"claude", "oc"}
    assert pins["oc"].package == "openclaw" and pins["oc"].version == "2026.9.6" and pins["oc"].command == "openclaw"
    assert read_pins("no array here") == {}


def test_the_repository_script_pins_the_six_clis(tmp_path: Path) -> None:
    script = find_install_script(REPO / "plugins")
    assert script == REPO / "scripts" / "install-agent-clis.sh"
    assert set(read_pins(script.read_text(encoding="utf-8"))) == {
        "claude",
        "codex",
        "gemini",
        "qwen",
        "opencode",
        "openclaw",
    }
    assert find_install_script(tmp_path) is None  # outside a clone: plugin tests skip
