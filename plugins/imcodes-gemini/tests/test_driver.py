"""The Gemini CLI driver: the core's contract, plus what the fixtures say about launching and resuming."""

from collections.abc import Callable
from pathlib import Path

import pytest
from imcodes_gemini.config import offline_settings, trusted_folders
from imcodes_gemini.driver import GeminiDriver
from imcodes_gemini.plugin import make_driver

from imcodes_core.drivers import LaunchRequest
from imcodes_core.testing.contracts import AgentDriverContract


class TestGeminiDriverContract(AgentDriverContract):
    @pytest.fixture
    def driver(self) -> GeminiDriver:
        return GeminiDriver()


def test_default_launch(tmp_path: Path) -> None:
    plan = GeminiDriver().launch_plan(LaunchRequest(session="s1", cwd=tmp_path))
    assert list(plan.argv) == ["gemini"] and plan.env == {"IMCODES_SESSION": "s1"}


def test_resume_matches_the_command_gemini_prints_on_exit(tmp_path: Path, screen: Callable[[str], str]) -> None:
    printed = "gemini --resume 73d7f6ea-fc95-4b06-a28a-5f2d34503c4c"
    assert printed in screen("gemini-exit-summary")
    request = LaunchRequest(session="s1", cwd=tmp_path, resume_id="73d7f6ea-fc95-4b06-a28a-5f2d34503c4c")
    assert " ".join(GeminiDriver().launch_plan(request).argv) == printed


def test_settings_give_binary_base_url_and_skip_trust(tmp_path: Path) -> None:
    driver = make_driver(
        {
            "IMCODES_GEMINI_BINARY": "/opt/g",
            "IMCODES_GEMINI_BASE_URL": "http://127.0.0.1:5",
            "IMCODES_GEMINI_SKIP_TRUST": "1",
        }
    )
    plan = driver.launch_plan(LaunchRequest(session="s", cwd=tmp_path, env={"GEMINI_API_KEY": "k"}))
    assert list(plan.argv) == ["/opt/g", "--skip-trust"]
    assert plan.env["GOOGLE_GEMINI_BASE_URL"] == "http://127.0.0.1:5" and plan.env["GEMINI_API_KEY"] == "k"
    assert make_driver({}).skip_trust is False


def test_offline_files_match_the_fixtures_readme() -> None:
    assert offline_settings()["security"] == {"auth": {"selectedType": "gemini-api-key"}}
    assert offline_settings()["telemetry"] == {"enabled": False}
    assert trusted_folders(["/abs/project"]) == {"/abs/project": "TRUST_FOLDER"}


def test_interrupt_keys_are_what_the_real_cli_needs() -> None:
    # checked on the real CLI (tests/agents/test_interrupt.py):
    # one Escape stops a turn ("esc to cancel")
    assert GeminiDriver().interrupt_keys == ("Escape",)
