"""The pytest11 fixtures, used as a plugin author uses them, and the plugin's import-time promise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from imcodes_core.host import PluginHost
from imcodes_core.testing.model_endpoint import FakeModelEndpoint
from imcodes_core.testing.terminal import FakeTerminal


def test_imcodes_home_is_a_fresh_directory_in_the_environment(imcodes_home: Path) -> None:
    assert imcodes_home.is_dir() and not any(imcodes_home.iterdir())
    assert os.environ["IMCODES_HOME"] == str(imcodes_home)


def test_imcodes_host_has_the_builtins(imcodes_host: PluginHost) -> None:
    assert "shell" in {spec.name for spec in imcodes_host.agent_drivers()}
    assert {"pane-life", "generic-screen"} <= {spec.name for spec in imcodes_host.state_detectors()}


def test_fake_model_endpoint_is_running(fake_model_endpoint: FakeModelEndpoint) -> None:
    with urllib.request.urlopen(fake_model_endpoint.url + "/v1/models", timeout=5) as response:
        assert json.loads(response.read())["data"][0]["id"] == "fake-model"


def test_fake_terminal_is_120_by_40(fake_terminal: FakeTerminal) -> None:
    fake_terminal.feed("hello\r\n$ ")
    assert (fake_terminal.columns, fake_terminal.rows) == (120, 40)
    assert fake_terminal.observation().screen == "hello\n$"


@pytest.mark.tmux
def test_tmux_socket_is_private_and_exported(tmux_socket: str) -> None:
    assert os.environ["IMCODES_TMUX_SOCKET"] == tmux_socket and "TMUX" not in os.environ
    subprocess.run(["tmux", "-L", tmux_socket, "new-session", "-d", "-s", "probe"], check=True, timeout=10)
    listed = subprocess.run(["tmux", "-L", tmux_socket, "ls"], capture_output=True, text=True, timeout=10)
    assert listed.stdout.startswith("probe:")


pytest_plugins = ["pytester"]


@pytest.mark.tmux
def test_tmux_socket_server_is_killed_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_socket="""
        import pathlib
        import subprocess

        def test_start(tmux_socket):
            subprocess.run(["tmux", "-L", tmux_socket, "new-session", "-d"], check=True, timeout=10)
            pathlib.Path("socket.txt").write_text(tmux_socket)
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    socket = (pytester.path / "socket.txt").read_text()
    after = subprocess.run(["tmux", "-L", socket, "ls"], capture_output=True, text=True, timeout=10)
    assert after.returncode != 0, "the tmux server outlived the test"


def test_the_plugin_imports_nothing_heavy() -> None:
    """pytest loads this plugin in every run of the environment: only the light core records, never the kit itself,
    the protocol, the daemon, the CLI or their dependencies."""
    code = "import sys, json, imcodes_core.testing.pytest_plugin; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    loaded = set(json.loads(done.stdout))
    heavy = ("pydantic", "libtmux", "cloup", "click", "websockets", "hypothesis", "http.server", "asyncio")
    assert not {m for m in loaded if m.split(".")[0] in heavy or m in heavy}
    kit = {
        m for m in loaded if m.startswith(("imcodes_core.testing.", "imcodes_core.protocol", "imcodes_core.daemon"))
    }
    assert kit == {"imcodes_core.testing.pytest_plugin"}
