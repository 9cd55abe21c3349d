"""``imcodes plugins new``: every kind renders a complete package whose own tests pass, and that installs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from imcodes_core.cli import make_cli
from imcodes_core.cli.scaffold import KINDS, PluginNames, ScaffoldError, render_plugin
from imcodes_core.host import PluginSettings, make_plugin_host

MAIN_FILE = {"driver": "driver.py", "detector": "detector.py", "mode": "mode.py", "notifier": "notifier.py"}


def new(*argv: str) -> tuple[int, str]:
    cli = make_cli(make_plugin_host(PluginSettings(), load_entry_points=False))
    result = CliRunner().invoke(cli, ["plugins", "new", *argv])
    return result.exit_code, result.output


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_renders_a_complete_package(kind: str, tmp_path: Path) -> None:
    code, output = new("imcodes-echo", "--kind", kind, "--dir", str(tmp_path))
    assert code == 0, output
    root = tmp_path / "imcodes-echo"
    assert f"created {root}" in output
    expected = {
        "pyproject.toml",
        "README.md",
        "src/imcodes_echo/__init__.py",
        "src/imcodes_echo/plugin.py",
        f"src/imcodes_echo/{MAIN_FILE[kind]}",
        "tests/test_plugin.py",
        "tests/test_contracts.py",
    } | ({"tests/test_in_tmux.py"} if kind == "driver" else set())
    assert files_under(root) == expected
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["name"] == "imcodes-echo"
    assert project["project"]["entry-points"]["imcodes"] == {"echo": "imcodes_echo.plugin"}
    assert project["project"]["dependencies"][0].startswith("imcodes-core")
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/imcodes_echo"]
    for path in expected:
        text = (root / path).read_text()
        assert "${" not in text and "__module__" not in text, f"unrendered placeholder in {path}"
    for path in (p for p in expected if p.endswith(".py")):
        compile((root / path).read_text(), path, "exec")
    readme = (root / "README.md").read_text()
    assert readme.startswith("# imcodes-echo\n") and "pip install -e" in readme


def test_names_become_module_entry_point_and_class_names() -> None:
    names = PluginNames.from_name("imcodes-Word_Count")
    assert (names.distribution, names.module, names.name, names.cls) == (
        "imcodes-word-count",
        "imcodes_word_count",
        "word-count",
        "WordCount",
    )
    assert PluginNames.from_name("acme").name == "acme"


@pytest.mark.parametrize("bad", ["1echo", "imcodes echo", "echo!", "_echo", "imcodes-", ""])
def test_a_bad_name_is_a_clear_error(bad: str, tmp_path: Path) -> None:
    code, output = new(bad, "--kind", "mode", "--dir", str(tmp_path))
    assert code == 1
    assert output.startswith("Error: ") and len(output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "imcodes-echo").mkdir()
    (tmp_path / "imcodes-echo" / "mine.txt").write_text("keep me")
    with pytest.raises(ScaffoldError, match="already exists"):
        render_plugin("imcodes-echo", "mode", tmp_path)
    assert files_under(tmp_path / "imcodes-echo") == {"mine.txt"}


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    code, output = new("imcodes-echo", "--kind", "supervisor", "--dir", str(tmp_path))
    assert code == 2 and "'supervisor' is not one of" in output


def pytest_in(package: Path, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMCODES_", "PYTEST_"))}
    return subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=110,
        env=env,
    )


@pytest.mark.parametrize(
    ("kind", "passed"),
    [
        pytest.param("driver", 9 + 1 + 1, marks=pytest.mark.tmux, id="driver"),  # contract, host, a tmux turn
        pytest.param("detector", 6 + 1, id="detector"),  # contract, host
        pytest.param("mode", 11 + 3 + 1, id="mode"),  # contract, round-robin behaviour, host
        pytest.param("notifier", 6 + 1 + 1, id="notifier"),  # contract (one per kind), env file, host
    ],
)
def test_the_generated_tests_pass(kind: str, passed: int, tmp_path: Path) -> None:
    root = render_plugin("imcodes-echo", kind, tmp_path)
    result = pytest_in(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{passed} passed" in result.stdout.strip().splitlines()[-1], result.stdout


# -- installed: a throwaway environment that sees the project's packages, never the project's .venv itself -------


def throwaway_venv(where: Path) -> Path:
    """A venv (with pip, offline from ensurepip) whose site also reads this interpreter's site-packages."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, capture_output=True, timeout=110)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    # a .pth line starting with "import" runs: addsitedir also processes the project's editable-install .pth files
    (Path(site) / "_imcodes_project.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["driver", "mode"])
def test_a_generated_package_installs_and_is_listed(kind: str, tmp_path: Path) -> None:
    pytest.importorskip("hatchling", reason="hatchling (dev group) builds the package without a network")
    root = render_plugin("imcodes-echo", kind, tmp_path / "gen")
    python = throwaway_venv(tmp_path / "venv")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(root)],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMCODES_")} | {"IMCODES_STRICT_PLUGINS": "1"}
    listed = subprocess.run(
        [str(python), "-m", "imcodes_core.cli", "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert listed.returncode == 0, listed.stderr
    [echo] = [r for r in json.loads(listed.stdout) if r["name"] == "echo"]
    hook = KINDS[kind][1]
    assert echo == {
        "name": "echo",
        "distribution": "imcodes-echo",
        "version": "0.1.0",
        "builtin": False,
        "hooks": [hook],
        "status": "ok",
        "error": None,
    }
    result = pytest_in(root, str(python))
    assert result.returncode == 0, result.stdout + result.stderr
    # and the project's own environment never saw it
    assert (
        "imcodes-echo"
        not in subprocess.run(
            [sys.executable, "-m", "imcodes_core.cli", "plugins", "list", "--json"], capture_output=True, text=True
        ).stdout
    )
