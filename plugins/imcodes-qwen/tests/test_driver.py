"""The Qwen Code driver: the core's contract, plus its approval mode and OpenAI-compatible endpoint."""

from pathlib import Path

import imcodes_qwen.plugin as qwen_plugin
import pytest
from imcodes_qwen.channel import QwenJsonFileChannel
from imcodes_qwen.driver import CAPABILITIES, QwenAcpDriver, QwenDriver
from imcodes_qwen.plugin import make_driver

from imcodes_core.channels import ChannelRequest
from imcodes_core.drivers import Capability, DriverKind, InputDelivery, LaunchRequest
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


def test_resume_passes_the_conversation_id_to_qwen_resume(tmp_path: Path) -> None:
    conversation = "07e4d485-b9dc-42c2-ba45-b1b9d50310d6"
    plan = QwenDriver().launch_plan(LaunchRequest(session="s", cwd=tmp_path, resume_id=conversation))
    assert list(plan.argv) == ["qwen", "--approval-mode", "default", "--resume", conversation]
    spec = next(s for s in qwen_plugin.imcodes_agent_drivers() if s.name == "qwen")
    assert Capability.RESUME in spec.capabilities


def test_the_acp_driver_leaves_resume_to_acp(tmp_path: Path) -> None:
    from imcodes_qwen.driver import ACP_CAPABILITIES

    assert Capability.RESUME in ACP_CAPABILITIES  # offered: the daemon resumes through ACP's session/load
    with pytest.raises(ValueError, match="session/load"):
        QwenAcpDriver().launch_plan(LaunchRequest(session="s", cwd=tmp_path, resume_id="x"))


def test_a_state_dir_adds_the_json_file_and_names_its_channel(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    stale = state / "events.jsonl"
    stale.write_text('{"type": "user"}\n' * 100)  # an earlier run of this session name: qwen would overwrite it
    request = LaunchRequest(session="s", cwd=tmp_path, state_dir=state, extra_args=["--debug"])
    plan = QwenDriver().launch_plan(request)
    assert list(plan.argv) == ["qwen", "--approval-mode", "default", "--json-file", str(stale), "--debug"]
    assert plan.channel == {"events": str(stale)} and not stale.exists()
    (channel,) = QwenDriver().session_channels(ChannelRequest("s", tmp_path, state, launch=plan.channel))
    assert isinstance(channel, QwenJsonFileChannel) and channel.path == stale
    assert QwenDriver().session_channels(ChannelRequest("s", tmp_path, state)) == []  # launched without one
    acp = QwenAcpDriver().launch_plan(request)
    assert "--json-file" not in acp.argv and not acp.channel  # ACP is its own channel
    assert QwenAcpDriver().session_channels(ChannelRequest("s", tmp_path, state, launch=plan.channel)) == []


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


def test_interrupt_keys_are_what_the_real_cli_needs() -> None:
    # checked on the real CLI (tests/agents/test_interrupt.py):
    # Escape would put the prompt back on the input line; one C-c, never two (exit)
    assert QwenDriver().interrupt_keys == ("C-c",)
    assert Capability.INTERRUPT in CAPABILITIES
