"""The Claude Code driver: the core's contract, plus what the fixtures say about launching and resuming."""

from collections.abc import Callable
from pathlib import Path

import pytest
from imcodes_claude.driver import ClaudeDriver
from imcodes_claude.plugin import make_driver

from imcodes_core.drivers import LaunchRequest
from imcodes_core.testing.contracts import AgentDriverContract


class TestClaudeDriverContract(AgentDriverContract):
    @pytest.fixture
    def driver(self) -> ClaudeDriver:
        return ClaudeDriver()


def test_default_launch_asks_for_manual_permissions_and_stays_quiet(tmp_path: Path) -> None:
    plan = ClaudeDriver().launch_plan(LaunchRequest(session="s1", cwd=tmp_path))
    assert list(plan.argv) == ["claude", "--permission-mode", "manual"]
    assert plan.env["IMCODES_SESSION"] == "s1"
    assert plan.env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert plan.env["DISABLE_AUTOUPDATER"] == "1"
    assert "ANTHROPIC_BASE_URL" not in plan.env


def test_resume_matches_the_command_claude_prints_on_exit(tmp_path: Path, screen: Callable[[str], str]) -> None:
    printed = "claude --permission-mode manual --resume e2d26fa1-6d70-4832-ae3b-de93bf04cf44"
    assert printed in screen("claude-exited-after-slash-exit")
    request = LaunchRequest(session="s1", cwd=tmp_path, resume_id="e2d26fa1-6d70-4832-ae3b-de93bf04cf44")
    assert " ".join(ClaudeDriver().launch_plan(request).argv) == printed


def test_base_url_points_at_another_endpoint_and_the_request_env_carries_the_key(tmp_path: Path) -> None:
    driver = ClaudeDriver(base_url="http://127.0.0.1:8765")
    plan = driver.launch_plan(LaunchRequest(session="s", cwd=tmp_path, env={"ANTHROPIC_API_KEY": "k-test"}))
    assert plan.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8765"
    assert plan.env["ANTHROPIC_API_KEY"] == "k-test"


def test_the_session_name_cannot_be_overridden_by_the_request_env(tmp_path: Path) -> None:
    plan = ClaudeDriver().launch_plan(LaunchRequest(session="real", cwd=tmp_path, env={"IMCODES_SESSION": "fake"}))
    assert plan.env["IMCODES_SESSION"] == "real"


def test_settings_configure_the_driver(tmp_path: Path) -> None:
    driver = make_driver(
        {
            "IMCODES_CLAUDE_BINARY": "/opt/claude/bin/claude",
            "IMCODES_CLAUDE_PERMISSION_MODE": "",
            "IMCODES_CLAUDE_BASE_URL": "http://127.0.0.1:9",
        }
    )
    plan = driver.launch_plan(LaunchRequest(session="s", cwd=tmp_path))
    assert list(plan.argv) == ["/opt/claude/bin/claude"]
    assert plan.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"
    assert driver.executable == "/opt/claude/bin/claude"


def test_installed_version_is_none_when_claude_is_not_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert ClaudeDriver().installed_version() is None


def test_interrupt_keys_are_what_the_real_cli_needs() -> None:
    # checked on the real CLI (tests/agents/test_interrupt.py):
    # one Escape stops a turn; C-c twice would exit Claude Code
    assert ClaudeDriver().interrupt_keys == ("Escape",)
