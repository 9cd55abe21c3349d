"""The OpenClaw driver: the core's contract and the launch command the fixtures README records."""

from pathlib import Path

import pytest
from imcodes_openclaw.driver import OpenClawDriver
from imcodes_openclaw.plugin import make_driver

from imcodes_core.drivers import LaunchRequest
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
