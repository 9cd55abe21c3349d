"""The OpenClaw drivers: the core's contract, the chat TUI's launch command, and the ACP transport's launcher."""

import sys
from pathlib import Path

import pytest
from imcodes_openclaw.driver import OpenClawAcpDriver, OpenClawDriver
from imcodes_openclaw.plugin import make_acp_driver, make_driver

from imcodes_core.drivers import DriverKind, InputDelivery, LaunchRequest
from imcodes_core.testing.contracts import AgentDriverContract


class TestOpenClawDriverContract(AgentDriverContract):
    @pytest.fixture
    def driver(self) -> OpenClawDriver:
        return OpenClawDriver()


def test_launches_the_chat_tui(tmp_path: Path) -> None:
    plan = OpenClawDriver().launch_plan(LaunchRequest(session="s1", cwd=tmp_path, extra_args=("--x",)))
    assert list(plan.argv) == ["openclaw", "chat", "--x"] and plan.env == {"IMCODES_SESSION": "s1"}
    assert (
        make_driver({"IMCODES_OPENCLAW_BINARY": "/opt/oc"})
        .launch_plan(LaunchRequest(session="s", cwd=tmp_path))
        .argv[0]
        == "/opt/oc"
    )


def test_resume_is_refused_rather_than_silently_dropped(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot resume"):
        OpenClawDriver().launch_plan(LaunchRequest(session="s", cwd=tmp_path, resume_id="x"))


class TestOpenClawAcpDriverContract(AgentDriverContract):
    @pytest.fixture
    def driver(self) -> OpenClawAcpDriver:
        return OpenClawAcpDriver()


def test_the_acp_driver_is_a_transport_running_the_bridge_launcher_with_this_python(tmp_path: Path) -> None:
    driver = make_acp_driver({})
    assert driver.name == "openclaw-acp" and driver.executable == "openclaw"
    assert driver.kind is DriverKind.TRANSPORT and driver.input_delivery is InputDelivery.TRANSPORT
    plan = driver.launch_plan(LaunchRequest(session="s1", cwd=tmp_path, extra_args=("--verbose",), env={"A": "b"}))
    launcher = [sys.executable, "-m", "imcodes_openclaw.bridge", "--openclaw", "openclaw", "--gateway", "auto"]
    assert list(plan.argv) == [*launcher, "--", "--verbose"] and plan.cwd == tmp_path
    assert plan.env == {
        "A": "b",
        "IMCODES_SESSION": "s1",
        "OPENCLAW_HIDE_BANNER": "1",
        "OPENCLAW_SUPPRESS_NOTES": "1",
    }


def test_the_acp_driver_takes_its_gateway_settings(tmp_path: Path) -> None:
    env = {"IMCODES_OPENCLAW_BINARY": "/opt/oc", "IMCODES_OPENCLAW_GATEWAY": "external"}
    argv = list(
        make_acp_driver({**env, "IMCODES_OPENCLAW_GATEWAY_PORT": "19001"}).base_argv(LaunchRequest("s", tmp_path))
    )
    assert argv[3:] == ["--openclaw", "/opt/oc", "--gateway", "external", "--port", "19001", "--"]
    with pytest.raises(ValueError, match="not a port number"):
        make_acp_driver({"IMCODES_OPENCLAW_GATEWAY_PORT": "x"})
    with pytest.raises(ValueError, match="expected one of auto, external"):
        make_acp_driver({"IMCODES_OPENCLAW_GATEWAY": "embedded"})


def test_the_acp_driver_refuses_a_resume_id_the_daemon_never_sends(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="resumes over ACP"):
        OpenClawAcpDriver().launch_plan(LaunchRequest(session="s", cwd=tmp_path, resume_id="x"))
