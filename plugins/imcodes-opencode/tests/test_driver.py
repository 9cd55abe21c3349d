"""The OpenCode driver: the core's contract, plus its port, offline switch and configuration file."""

from pathlib import Path

import pytest
from imcodes_opencode.config import offline_config
from imcodes_opencode.driver import OpenCodeDriver
from imcodes_opencode.plugin import make_driver

from imcodes_core.drivers import LaunchRequest
from imcodes_core.testing.contracts import AgentDriverContract


class TestOpenCodeDriverContract(AgentDriverContract):
    @pytest.fixture
    def driver(self) -> OpenCodeDriver:
        return OpenCodeDriver()


def test_default_launch(tmp_path: Path) -> None:
    plan = OpenCodeDriver().launch_plan(LaunchRequest(session="s1", cwd=tmp_path))
    assert list(plan.argv) == ["opencode"] and plan.env == {"IMCODES_SESSION": "s1"}


def test_port_serves_the_event_stream_and_offline_disables_the_models_fetch(tmp_path: Path) -> None:
    plan = OpenCodeDriver(port=4711, disable_models_fetch=True).launch_plan(LaunchRequest(session="s", cwd=tmp_path))
    assert list(plan.argv) == ["opencode", "--port", "4711"]
    assert plan.env["OPENCODE_DISABLE_MODELS_FETCH"] == "1"
    assert make_driver({"IMCODES_OPENCODE_OFFLINE": "yes"}).disable_models_fetch is True
    assert make_driver({}).disable_models_fetch is False


def test_resume_is_refused_rather_than_silently_dropped(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot resume"):
        OpenCodeDriver().launch_plan(LaunchRequest(session="s", cwd=tmp_path, resume_id="ses_x"))


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
    assert list(driver.launch_plan(request).argv) == ["opencode", "--port", "5000"]
    assert make_driver({}).port is None
