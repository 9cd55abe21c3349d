"""The plugin tutorials are true: their ``# file:`` code blocks, written out as a package, pass their own tests."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins"
_BLOCK = re.compile(r"```(?:python|toml)\n# file: (?P<path>\S+)\n(?P<body>.*?)```", re.DOTALL)


def files_of(tutorial: str) -> dict[str, str]:
    text = (DOCS / tutorial).read_text(encoding="utf-8")
    return {match["path"]: match["body"] for match in _BLOCK.finditer(text)}


@pytest.mark.parametrize(
    ("tutorial", "expected_files", "passed"),
    [
        pytest.param(
            "tutorial-driver.md",
            {
                "pyproject.toml",
                "src/imcodes_toy/driver.py",
                "src/imcodes_toy/detectors.py",
                "src/imcodes_toy/plugin.py",
                "tests/test_contracts.py",
                "tests/test_in_tmux.py",
            },
            # driver contract 9 + two detector contracts 6 each + the tmux turn
            9 + 6 + 6 + 1,
            marks=pytest.mark.tmux,
            id="driver",
        ),
        pytest.param(
            "tutorial-mode.md",
            {
                "pyproject.toml",
                "src/imcodes_critique/mode.py",
                "src/imcodes_critique/plugin.py",
                "tests/test_mode.py",
            },
            # mode contract (1 + 5 + 2 + 3) + three behaviour tests
            11 + 3,
            id="mode",
        ),
    ],
)
def test_tutorial_code_passes_its_tests(
    pytester: pytest.Pytester, tutorial: str, expected_files: set[str], passed: int
) -> None:
    files = files_of(tutorial)
    assert set(files) == expected_files
    for relative, body in files.items():
        target = pytester.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    pytester.makefile(
        ".ini",
        pytest=(
            "[pytest]\npythonpath = src\nmarkers =\n    tmux: needs tmux\n"
            "asyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"
        ),
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--import-mode=importlib", "--strict-markers")
    result.assert_outcomes(passed=passed)


def test_the_plugin_modules_register_through_the_host(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tutorials' plugin modules, registered the way an entry point would be, give valid specs."""
    from imcodes_core.host import PluginHost, PluginSettings

    for tutorial in ("tutorial-driver.md", "tutorial-mode.md"):
        for relative, body in files_of(tutorial).items():
            if relative.startswith("src/"):
                target = pytester.path / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(body, encoding="utf-8")
    monkeypatch.syspath_prepend(str(pytester.path / "src"))
    try:
        host = PluginHost(PluginSettings(strict=True))
        host.register(importlib.import_module("imcodes_toy.plugin"), "toy", distribution="imcodes-toy", version="0.1")
        critique = importlib.import_module("imcodes_critique.plugin")
        host.register(critique, "critique", distribution="imcodes-critique", version="0.1")
        assert [spec.name for spec in host.agent_drivers()] == ["toy"]
        assert {spec.name for spec in host.state_detectors()} == {"toy-screen", "toy-events"}
        assert [spec.name for spec in host.discussion_modes()] == ["critique"]
    finally:  # the tutorial packages must not outlive this test
        for name in [m for m in sys.modules if m.split(".")[0] in ("imcodes_toy", "imcodes_critique")]:
            del sys.modules[name]
