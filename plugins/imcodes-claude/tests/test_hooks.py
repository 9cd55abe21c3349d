"""imcodes' hooks for a Claude Code session: rendered for ``--settings``, only when the daemon launches it."""

import json
import shlex
from pathlib import Path

from imcodes_claude.driver import ClaudeDriver
from imcodes_claude.hooks import HOOK_EVENTS, hook_settings, settings_argument

from imcodes_core.drivers import LaunchRequest


def test_every_event_the_detector_reads_runs_the_hook_command() -> None:
    settings = hook_settings(["/opt/imcodes/bin/imcodes", "hook", "claude"])
    assert set(settings) == {"hooks"}  # nothing else of the user's settings is overridden
    assert set(settings["hooks"]) == set(HOOK_EVENTS)
    for event, groups in settings["hooks"].items():
        (group,) = groups
        (handler,) = group["hooks"]
        assert handler == {"type": "command", "command": "/opt/imcodes/bin/imcodes hook claude", "timeout": 5}
        assert group.get("matcher") == ("*" if event in {"PreToolUse", "PermissionRequest", "PostToolUse"} else None)


def test_the_default_command_is_this_installation_of_imcodes() -> None:
    command = shlex.split(hook_settings()["hooks"]["Stop"][0]["hooks"][0]["command"])
    assert command[-2:] == ["hook", "claude"]
    assert Path(command[0]).is_absolute()


def test_the_daemon_launch_carries_the_hooks_as_inline_settings(tmp_path: Path) -> None:
    request = LaunchRequest(session="s1", cwd=tmp_path, env={"IMCODES_HOME": str(tmp_path / "home")})
    argv = list(ClaudeDriver().launch_plan(request).argv)
    assert argv[:3] == ["claude", "--permission-mode", "manual"]
    assert argv[3] == "--settings" and json.loads(argv[4]) == json.loads(settings_argument())
    plan = ClaudeDriver().launch_plan(LaunchRequest(session="s1", cwd=tmp_path))
    assert "--settings" not in plan.argv  # run outside the daemon: no socket to report to, no hooks
