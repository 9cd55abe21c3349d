"""The Codex driver: the core's contract, plus what the fixtures say about launching, resuming, configuring."""

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from imcodes_codex.config import offline_config
from imcodes_codex.driver import CodexDriver
from imcodes_codex.plugin import make_driver

from imcodes_core.drivers import LaunchRequest
from imcodes_core.testing.contracts import AgentDriverContract


class TestCodexDriverContract(AgentDriverContract):
    @pytest.fixture
    def driver(self) -> CodexDriver:
        return CodexDriver()


def test_default_launch(tmp_path: Path) -> None:
    plan = CodexDriver().launch_plan(LaunchRequest(session="s1", cwd=tmp_path))
    assert list(plan.argv) == ["codex", "--no-daemon"]  # else its app-server daemon outlives the pane
    assert plan.env == {"IMCODES_SESSION": "s1"}


def test_no_daemon_is_passed_once_even_when_the_caller_adds_it(tmp_path: Path) -> None:
    # Codex 0.169.0: "error: the argument '--no-daemon' cannot be used multiple times"
    plan = CodexDriver().launch_plan(LaunchRequest(session="s1", cwd=tmp_path, extra_args=["--no-daemon"]))
    assert list(plan.argv) == ["codex", "--no-daemon"]
    assert list(CodexDriver(no_daemon=False).launch_plan(LaunchRequest(session="s1", cwd=tmp_path)).argv) == ["codex"]


def test_resume_matches_the_command_codex_prints_on_exit(tmp_path: Path, screen: Callable[[str], str]) -> None:
    printed = "codex resume 01a20d51-060a-72e3-9810-b279a0d8c6ba"
    assert printed in screen("codex-exited-after-quit")
    request = LaunchRequest(session="s1", cwd=tmp_path, resume_id="01a20d51-060a-72e3-9810-b279a0d8c6ba")
    assert " ".join(CodexDriver().launch_plan(request).argv) == f"{printed} --no-daemon"  # resume takes it too


def test_codex_home_and_binary_come_from_the_settings(tmp_path: Path) -> None:
    driver = make_driver({"IMCODES_CODEX_BINARY": "/opt/codex/bin/codex", "IMCODES_CODEX_HOME": str(tmp_path)})
    plan = driver.launch_plan(LaunchRequest(session="s", cwd=tmp_path, env={"FAKE_API_KEY": "k"}))
    assert plan.argv[0] == "/opt/codex/bin/codex"
    assert plan.env["CODEX_HOME"] == str(tmp_path) and plan.env["FAKE_API_KEY"] == "k"


def test_offline_config_has_every_key_the_fixtures_readme_lists() -> None:
    config = tomllib.loads(offline_config("http://127.0.0.1:8765/v1", ["/abs/project", 'odd "name"']))
    assert config["model_provider"] == "fake"
    assert config["model_providers"]["fake"] == {
        "name": "fake",
        "base_url": "http://127.0.0.1:8765/v1",
        "env_key": "FAKE_API_KEY",
        "wire_api": "responses",
        "requires_openai_auth": False,
    }
    assert config["projects"]["/abs/project"] == {"trust_level": "trusted"}
    assert config["projects"]['odd "name"'] == {"trust_level": "trusted"}
    assert config["check_for_update_on_startup"] is False
    assert config["analytics"] == {"enabled": False}


def test_interrupt_keys_are_what_the_real_cli_needs() -> None:
    # checked on the real CLI (tests/agents/test_interrupt.py):
    # one Escape stops a turn ("esc to interrupt")
    assert CodexDriver().interrupt_keys == ("Escape",)
