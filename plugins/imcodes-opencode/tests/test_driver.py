"""The OpenCode driver: the core's contract, plus its port and channel, resume, offline switch and configuration."""

import os
import socket
from pathlib import Path

import pytest
from imcodes_opencode.channel import OpenCodeEventChannel
from imcodes_opencode.config import offline_config
from imcodes_opencode.driver import CAPABILITIES, OpenCodeDriver, port_is_free
from imcodes_opencode.plugin import make_driver

from imcodes_core.channels import ChannelRequest
from imcodes_core.drivers import Capability, LaunchRequest
from imcodes_core.testing.contracts import AgentDriverContract


class TestOpenCodeDriverContract(AgentDriverContract):
    @pytest.fixture
    def driver(self) -> OpenCodeDriver:
        return OpenCodeDriver()


def test_default_launch(tmp_path: Path) -> None:
    """Without a state folder (not a daemon launch) nobody follows the stream: no port is taken."""
    plan = OpenCodeDriver().launch_plan(LaunchRequest(session="s1", cwd=tmp_path))
    assert list(plan.argv) == ["opencode"] and plan.env == {"IMCODES_SESSION": "s1"} and plan.channel == {}


def test_a_daemon_launch_picks_a_free_loopback_port_and_keeps_it(tmp_path: Path) -> None:
    request = LaunchRequest(session="s1", cwd=tmp_path, state_dir=tmp_path)
    plan = OpenCodeDriver().launch_plan(request)
    argv = list(plan.argv)
    port = int(argv[argv.index("--port") + 1])
    secret = tmp_path / "opencode-password"
    assert 0 < port < 65536 and plan.channel == {"port": str(port), "password_file": str(secret)}
    # the API's password: in a 0600 file read by sh into OpenCode's environment, never on a command line
    assert argv[:2] == ["sh", "-c"] and argv[3:6] == ["opencode-launch", str(secret), "opencode"]
    assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_text()) >= 32
    assert secret.read_text() not in " ".join(argv) and plan.env["OPENCODE_SERVER_USERNAME"] == "opencode"
    assert port_is_free(port)  # picked, then released for OpenCode to bind
    assert OpenCodeDriver().launch_plan(request) == plan  # the same plan when asked again
    with socket.socket() as taken:  # the kept port is in use now: another one
        taken.bind(("127.0.0.1", port))
        again = OpenCodeDriver().launch_plan(request)
    assert again.channel["port"] != str(port) and again.channel["port"] in again.argv


def test_the_channel_follows_the_stored_port(tmp_path: Path) -> None:
    driver = OpenCodeDriver()
    (channel,) = driver.session_channels(
        ChannelRequest("s1", tmp_path, tmp_path, launch={"port": "4711"}, pane_pid=os.getpid())
    )
    assert isinstance(channel, OpenCodeEventChannel)
    assert (channel.port, channel.host, channel.path, channel.pane_pid) == (4711, "127.0.0.1", "/event", os.getpid())
    assert driver.session_channels(ChannelRequest("s1", tmp_path, tmp_path)) == []


def test_port_serves_the_event_stream_and_offline_disables_the_models_fetch(tmp_path: Path) -> None:
    plan = OpenCodeDriver(port=4711, disable_models_fetch=True).launch_plan(LaunchRequest(session="s", cwd=tmp_path))
    assert list(plan.argv) == ["opencode", "--port", "4711"]
    assert plan.env["OPENCODE_DISABLE_MODELS_FETCH"] == "1"
    assert make_driver({"IMCODES_OPENCODE_OFFLINE": "yes"}).disable_models_fetch is True
    assert make_driver({}).disable_models_fetch is False


def test_resume_continues_the_session_by_id(tmp_path: Path) -> None:
    """``opencode --session <id>`` (``-s``, as the exit summary prints it) continues that session in the TUI."""
    plan = OpenCodeDriver(port=4711).launch_plan(LaunchRequest(session="s", cwd=tmp_path, resume_id="ses_x1"))
    assert list(plan.argv) == ["opencode", "--port", "4711", "--session", "ses_x1"]
    assert Capability.RESUME in CAPABILITIES


def test_offline_config_matches_the_fixtures_readme() -> None:
    config = offline_config("http://127.0.0.1:8765/v1")
    assert config["provider"]["fake"]["npm"] == "@ai-sdk/openai-compatible"
    assert config["provider"]["fake"]["options"] == {"baseURL": "http://127.0.0.1:8765/v1"}
    assert config["model"] == config["small_model"] == "fake/fake-model"
    assert (config["autoupdate"], config["share"]) == (False, "disabled")
    assert config["permission"] == {"bash": "ask", "edit": "ask"}


def test_the_port_is_a_setting_and_a_callers_own_port_wins(tmp_path: Path) -> None:
    driver = make_driver({"IMCODES_OPENCODE_PORT": "4712"})
    assert list(driver.launch_plan(LaunchRequest(session="s", cwd=tmp_path)).argv) == ["opencode", "--port", "4712"]
    request = LaunchRequest(session="s", cwd=tmp_path, extra_args=["--port", "5000"])
    plan = driver.launch_plan(request)
    assert list(plan.argv) == ["opencode", "--port", "5000"] and plan.channel == {"port": "5000"}
    request = LaunchRequest(session="s", cwd=tmp_path, extra_args=["--port=5001"], state_dir=tmp_path)
    plan = OpenCodeDriver().launch_plan(request)
    assert list(plan.argv)[-2:] == ["opencode", "--port=5001"] and plan.channel["port"] == "5001"
    assert plan.channel["password_file"] == str(tmp_path / "opencode-password")
    assert make_driver({}).port is None


def test_interrupt_keys_are_what_the_real_cli_needs() -> None:
    # checked on the real CLI (tests/agents/test_interrupt.py):
    # the first Escape only arms the interrupt; C-c exits OpenCode
    assert OpenCodeDriver().interrupt_keys == ("Escape", "Escape")
