"""The Qwen Code driver: the core's contract, plus its approval mode and OpenAI-compatible endpoint."""

from pathlib import Path

import pytest
from imcodes_qwen.driver import QwenAcpDriver, QwenDriver
from imcodes_qwen.plugin import make_driver

from imcodes_core.drivers import DriverKind, InputDelivery, LaunchRequest
from imcodes_core.testing.contracts import AgentDriverContract


class TestQwenDriverContract(AgentDriverContract):
    @pytest.fixture
    def driver(self) -> QwenDriver:
        return QwenDriver()


def test_default_launch_asks_before_tools(tmp_path: Path) -> None:
    plan = QwenDriver().launch_plan(LaunchRequest(session="s1", cwd=tmp_path))
    assert list(plan.argv) == ["qwen", "--approval-mode", "default"] and plan.env == {"IMCODES_SESSION": "s1"}


def test_an_openai_compatible_endpoint_uses_the_flags_and_env_of_the_fixtures_readme(tmp_path: Path) -> None:
    driver = make_driver({"IMCODES_QWEN_BASE_URL": "http://127.0.0.1:8765/v1", "IMCODES_QWEN_MODEL": "fake-model"})
    plan = driver.launch_plan(LaunchRequest(session="s", cwd=tmp_path, env={"OPENAI_API_KEY": "k"}))
    assert list(plan.argv) == ["qwen", "--auth-type", "openai", "--approval-mode", "default"]
    assert plan.env["OPENAI_BASE_URL"] == "http://127.0.0.1:8765/v1"
    assert plan.env["OPENAI_MODEL"] == "fake-model" and plan.env["OPENAI_API_KEY"] == "k"


def test_resume_is_refused_rather_than_silently_dropped(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot resume"):
        QwenDriver().launch_plan(LaunchRequest(session="s", cwd=tmp_path, resume_id="x"))


def test_the_auth_type_is_a_setting_of_its_own(tmp_path: Path) -> None:
    # e.g. OPENAI_API_KEY and OPENAI_BASE_URL from the user's own environment, no endpoint set in imcodes
    plan = make_driver({"IMCODES_QWEN_AUTH_TYPE": "openai"}).launch_plan(LaunchRequest(session="s", cwd=tmp_path))
    assert list(plan.argv) == ["qwen", "--auth-type", "openai", "--approval-mode", "default"]
    assert "OPENAI_BASE_URL" not in plan.env
    env = {"IMCODES_QWEN_BASE_URL": "http://127.0.0.1:1/v1", "IMCODES_QWEN_AUTH_TYPE": "openai-responses"}
    assert list(make_driver(env).launch_plan(LaunchRequest(session="s", cwd=tmp_path)).argv)[1:3] == [
        "--auth-type",
        "openai-responses",
    ]


class TestQwenAcpDriverContract(AgentDriverContract):
    @pytest.fixture
    def driver(self) -> QwenAcpDriver:
        return QwenAcpDriver()


def test_the_acp_driver_is_a_transport_running_qwen_acp_with_the_same_settings(tmp_path: Path) -> None:
    driver = make_driver({"IMCODES_QWEN_BASE_URL": "http://127.0.0.1:8765/v1", "IMCODES_QWEN_MODEL": "m"}, acp=True)
    assert isinstance(driver, QwenAcpDriver) and driver.name == "qwen-acp"
    assert driver.kind is DriverKind.TRANSPORT and driver.input_delivery is InputDelivery.TRANSPORT
    plan = driver.launch_plan(LaunchRequest(session="s", cwd=tmp_path, env={"OPENAI_API_KEY": "k"}))
    assert list(plan.argv) == ["qwen", "--acp", "--auth-type", "openai", "--approval-mode", "default"]
    assert plan.env["OPENAI_BASE_URL"] == "http://127.0.0.1:8765/v1" and plan.env["OPENAI_MODEL"] == "m"
    assert plan.env["IMCODES_SESSION"] == "s" and plan.env["OPENAI_API_KEY"] == "k"
