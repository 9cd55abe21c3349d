"""The plugin host: built-ins first, entry points one by one, env switches, strict mode, broken plugins reported.

Entry points here are real: each test writes packages and ``.dist-info`` folders with ``entry_points.txt`` into a
temporary folder on ``sys.path`` (or ``PYTHONPATH``), which ``importlib.metadata`` finds like any installed plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from imcodes_core.cli import make_cli
from imcodes_core.hookspecs import hookimpl
from imcodes_core.host import PluginError, PluginHost, PluginSettings, PluginStatus, make_plugin_host
from imcodes_core.specs import AgentDriverSpec

REPO = Path(__file__).resolve().parents[2]
IMCODES = REPO / ".venv" / "bin" / "imcodes"
FIRST_PARTY = {
    "claude": "imcodes-claude",
    "codex": "imcodes-codex",
    "gemini": "imcodes-gemini",
    "memory": "imcodes-memory",
    "openclaw": "imcodes-openclaw",
    "opencode": "imcodes-opencode",
    "qwen": "imcodes-qwen",
}

GOOD_PLUGIN = """
from imcodes_core import hookimpl
from imcodes_core.drivers import ProcessDriver
from imcodes_core.specs import AgentDriverSpec


class TmpDriver(ProcessDriver):
    name = "tmp-driver"
    executable = "tmp-agent"


@hookimpl
def imcodes_agent_drivers():
    return [AgentDriverSpec(name="tmp-driver", driver=TmpDriver())]
"""
BROKEN_PLUGIN = 'raise ImportError("tmp_broken needs a library that is not installed")\n'
MISSPELLED_PLUGIN = """
from imcodes_core import hookimpl


@hookimpl
def imcodes_agent_driver():  # the hook is imcodes_agent_drivers
    return []
"""
UNDECORATED_TYPO_PLUGIN = """
def imcodes_notifier():  # not a hook: the hook is imcodes_notifiers
    return []
"""


def add_distribution(root: Path, distribution: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Write ``modules`` (name -> source) and ``<distribution>-1.2.3.dist-info`` (group ``imcodes``) into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{distribution.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.2.3\n", "utf-8")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[imcodes]\n{lines}", encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path with a good, a broken and a misspelled plugin, each its own distribution."""
    root = tmp_path / "site"
    add_distribution(root, "imcodes-tmp-good", {"tmp-good": "tmp_good"}, {"tmp_good": GOOD_PLUGIN})
    add_distribution(root, "imcodes-tmp-broken", {"tmp-broken": "tmp_broken"}, {"tmp_broken": BROKEN_PLUGIN})
    add_distribution(root, "imcodes-tmp-typo", {"tmp-typo": "tmp_typo"}, {"tmp_typo": MISSPELLED_PLUGIN})
    monkeypatch.syspath_prepend(str(root))  # also invalidates the import caches
    for name in (
        "IMCODES_LOAD_PLUGINS",
        "IMCODES_DISABLE_PLUGINS",
        "IMCODES_TRACE_PLUGINS",
        "IMCODES_STRICT_PLUGINS",
    ):
        monkeypatch.delenv(name, raising=False)
    yield root
    for module in ("tmp_good", "tmp_broken", "tmp_typo", "tmp_undecorated", "tmp_dup_a", "tmp_dup_b"):
        sys.modules.pop(module, None)


def module(name: str, source: str) -> types.ModuleType:
    made = types.ModuleType(name)
    exec(compile(textwrap.dedent(source), f"{name}.py", "exec"), made.__dict__)
    return made


def driver_module(name: str, driver: str, *, trylast: bool = False) -> types.ModuleType:
    made = types.ModuleType(name)
    marker = hookimpl(trylast=True) if trylast else hookimpl

    def imcodes_agent_drivers() -> list[AgentDriverSpec]:
        from imcodes_core.builtins.shell import ShellDriver

        return [AgentDriverSpec(name=driver, driver=ShellDriver(), title=f"{driver} from {name}")]

    made.imcodes_agent_drivers = marker(imcodes_agent_drivers)  # type: ignore[attr-defined]
    return made


# -- built-ins and overriding ------------------------------------------------------------------------------------


def test_builtins_register_first_as_trylast_fallbacks() -> None:
    host = make_plugin_host(PluginSettings(), load_entry_points=False)
    records = host.plugins
    assert [r.name for r in records] == ["builtin-shell", "builtin-screen"]
    assert all(r.builtin and r.distribution == "imcodes-core" and r.status is PluginStatus.OK for r in records)
    assert [s.name for s in host.agent_drivers()] == ["shell"]


def test_a_plugin_overrides_a_trylast_builtin_of_the_same_name() -> None:
    host = make_plugin_host(PluginSettings(strict=True), load_entry_points=False)
    host.register(driver_module("better_shell", "shell"), "better-shell", distribution="imcodes-better-shell")
    [shell] = host.agent_drivers()
    assert shell.title == "shell from better_shell"
    assert host.plugin("better-shell").status is PluginStatus.OK  # type: ignore[union-attr]


def test_duplicate_spec_names_are_rejected_naming_both_distributions() -> None:
    host = make_plugin_host(PluginSettings(), load_entry_points=False)
    host.register(driver_module("dup_a", "toy"), "dup-a", distribution="imcodes-dup-a")
    host.register(driver_module("dup_b", "toy"), "dup-b", distribution="imcodes-dup-b")
    assert [s.name for s in host.agent_drivers()].count("toy") == 1
    errors = [e for r in host.plugins for e in r.errors]
    assert len(errors) == 1
    assert "duplicate name 'toy'" in errors[0]
    assert "imcodes-dup-a" in errors[0] and "imcodes-dup-b" in errors[0]


def test_duplicate_entry_point_names_are_rejected_naming_both_distributions(site: Path) -> None:
    other = site.parent / "other"
    add_distribution(other, "imcodes-impostor", {"tmp-good": "tmp_impostor"}, {"tmp_impostor": GOOD_PLUGIN})
    sys.path.insert(0, str(other))
    try:
        host = make_plugin_host(PluginSettings(load_only=frozenset({"tmp-good"})))
    finally:
        sys.path.remove(str(other))
        sys.modules.pop("tmp_impostor", None)
    messages = [e for r in host.plugins for e in r.errors if "already registered" in e]
    assert len(messages) == 1
    assert {"imcodes-impostor", "imcodes-tmp-good"} <= set(messages[0].replace("(", " ").split())
    assert host.plugin("tmp-good").status is PluginStatus.OK  # type: ignore[union-attr]


# -- entry points and the environment switches -------------------------------------------------------------------


def test_entry_points_load_with_their_distribution_and_version(site: Path) -> None:
    host = make_plugin_host(PluginSettings())
    good = host.plugin("tmp-good")
    assert good is not None and good.status is PluginStatus.OK
    assert (good.distribution, good.version, good.hooks) == ("imcodes-tmp-good", "1.2.3", ["imcodes_agent_drivers"])
    assert "tmp-driver" in {s.name for s in host.agent_drivers()}
    for name, distribution in FIRST_PARTY.items():
        record = host.plugin(name)
        assert record is not None and record.distribution == distribution and record.status is PluginStatus.OK


def test_a_plugin_whose_import_raises_is_listed_with_its_error(site: Path) -> None:
    host = make_plugin_host(PluginSettings())
    broken = host.plugin("tmp-broken")
    assert broken is not None and broken.status is PluginStatus.ERROR
    assert broken.to_dict()["error"] == "import failed: ImportError: tmp_broken needs a library that is not installed"
    assert broken.distribution == "imcodes-tmp-broken" and broken.version == "1.2.3"
    assert host.plugin("tmp-good").status is PluginStatus.OK  # type: ignore[union-attr]
    assert {"shell", "tmp-driver"} <= {s.name for s in host.agent_drivers()}


def test_load_plugins_loads_only_the_named_entry_points(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMCODES_LOAD_PLUGINS", "tmp-good, claude")
    host = make_plugin_host()
    status = {r.name: r.status for r in host.plugins}
    assert status["builtin-shell"] is status["builtin-screen"] is status["tmp-good"] is PluginStatus.OK
    assert status["claude"] is PluginStatus.OK
    assert status["tmp-broken"] is status["codex"] is status["server"] is PluginStatus.DISABLED
    assert "tmp_broken" not in sys.modules  # never imported


def test_disable_plugins_skips_entry_points_and_builtins(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMCODES_DISABLE_PLUGINS", "tmp-broken,builtin-screen")
    host = make_plugin_host()
    assert host.plugin("tmp-broken").status is PluginStatus.DISABLED  # type: ignore[union-attr]
    assert host.plugin("builtin-screen").status is PluginStatus.DISABLED  # type: ignore[union-attr]
    assert "generic-screen" not in {s.name for s in host.state_detectors()}
    assert not [r for r in host.plugins if r.status is PluginStatus.ERROR]


def test_trace_plugins_writes_each_hook_call_to_stderr(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMCODES_TRACE_PLUGINS", "1")
    monkeypatch.setenv("IMCODES_LOAD_PLUGINS", "tmp-good")
    make_plugin_host().agent_drivers()
    trace = capsys.readouterr().err
    assert "imcodes_plugin_loaded" in trace
    assert "imcodes_agent_drivers" in trace


def test_strict_fails_fast_on_an_import_error(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMCODES_STRICT_PLUGINS", "1")
    monkeypatch.setenv("IMCODES_LOAD_PLUGINS", "tmp-broken")
    with pytest.raises(PluginError, match=r"tmp-broken \(imcodes-tmp-broken\): import failed: ImportError"):
        make_plugin_host()


def test_strict_detects_a_misspelled_hookimpl(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMCODES_LOAD_PLUGINS", "tmp-typo")
    lenient = make_plugin_host()
    assert lenient.plugin("tmp-typo").status is PluginStatus.OK  # type: ignore[union-attr]
    monkeypatch.setenv("IMCODES_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="imcodes_agent_driver"):
        make_plugin_host()


def test_strict_detects_an_imcodes_function_that_is_no_hook() -> None:
    host = PluginHost(PluginSettings(strict=True))
    with pytest.raises(PluginError, match="unknown hook 'imcodes_notifier'"):
        host.register(module("tmp_undecorated", UNDECORATED_TYPO_PLUGIN), "tmp-undecorated")


def test_strict_loads_every_installed_first_party_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMCODES_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("IMCODES_DISABLE_PLUGINS", raising=False)
    host = make_plugin_host(PluginSettings(strict=True))
    for collect in (host.agent_drivers, host.state_detectors, host.cli_commands, host.settings_specs):
        collect()
    assert set(FIRST_PARTY) | {"server", "builtin-shell", "builtin-screen"} <= {r.name for r in host.plugins}


# -- the CLI keeps working around a broken plugin ----------------------------------------------------------------


def test_every_command_works_with_a_broken_plugin_installed(site: Path) -> None:
    cli = make_cli(make_plugin_host(PluginSettings()))
    runner = CliRunner()
    listed = runner.invoke(cli, ["plugins", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    records = {r["name"]: r for r in json.loads(listed.output)}
    assert records["tmp-broken"]["status"] == "error"
    assert "tmp_broken needs a library" in records["tmp-broken"]["error"]
    table = runner.invoke(cli, ["plugins", "list"])
    assert table.exit_code == 0 and "! tmp-broken: import failed" in table.output
    assert "1 plugin(s) failed to load" in table.output
    for argv in (["--help"], ["up", "--help"], ["doctor", "--help"], ["plugins", "new", "--help"]):
        result = runner.invoke(cli, argv)
        assert result.exit_code == 0, (argv, result.output)


def _run_imcodes(*argv: str, pythonpath: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("IMCODES_")}
    if pythonpath is not None:
        environment["PYTHONPATH"] = str(pythonpath)
    environment.update(env)
    return subprocess.run([str(IMCODES), *argv], capture_output=True, text=True, timeout=60, env=environment)


def test_the_installed_command_lists_builtins_and_first_party_plugins() -> None:
    result = _run_imcodes("plugins", "list", "--json", IMCODES_STRICT_PLUGINS="1")
    assert result.returncode == 0, result.stderr
    records = {r["name"]: r for r in json.loads(result.stdout)}
    assert records["builtin-shell"]["builtin"] and records["builtin-screen"]["builtin"]
    for name, distribution in FIRST_PARTY.items():
        assert records[name]["distribution"] == distribution
        assert records[name]["version"] == "0.1.0"
        assert records[name]["status"] == "ok" and records[name]["error"] is None
    assert records["server"]["hooks"] == ["imcodes_cli_commands"]


def test_the_installed_command_with_a_broken_plugin(site: Path) -> None:
    lenient = _run_imcodes("plugins", "list", "--json", pythonpath=site)
    assert lenient.returncode == 0, lenient.stderr
    assert {r["name"]: r["status"] for r in json.loads(lenient.stdout)}["tmp-broken"] == "error"
    assert "tmp-broken" in lenient.stderr  # the host also warns on stderr

    strict = _run_imcodes("plugins", "list", "--json", pythonpath=site, IMCODES_STRICT_PLUGINS="1")
    assert strict.returncode == 2
    assert strict.stdout == ""
    assert "Traceback" not in strict.stderr
    [line] = strict.stderr.strip().splitlines()
    assert line.startswith("imcodes: plugin error (IMCODES_STRICT_PLUGINS is on): plugin tmp-broken")
    assert "tmp_broken needs a library that is not installed" in line
