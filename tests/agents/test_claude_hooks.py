"""Claude Code, the real CLI, run BY THE DAEMON in tmux against the fake model endpoint: state from its hooks.

The daemon launches ``claude`` through the imcodes-claude driver, which hands imcodes' hooks over with
``--settings <json>``; every hook runs ``imcodes hook claude``, which reports to the daemon's event socket. The test
follows the daemon's timeline: the state sequence with the hook named as evidence, the approval sent as the key the
plugin's permission prompt parser gives, the chat events, and the user's own settings file left byte for byte.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from imcodes_claude.screen import permission_prompt

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.host import make_plugin_host
from imcodes_core.protocol.frames import SessionStart, SessionStop, TerminalInput

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

HELPERS = "imcodes_agent_cli_daemon_session"


def _helpers() -> Any:
    """daemon_session.py beside this file (this folder is no package): the daemon's stand-in publisher and more."""
    if HELPERS not in sys.modules:
        spec = importlib.util.spec_from_file_location(HELPERS, Path(__file__).with_name("daemon_session.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[HELPERS] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[HELPERS])
    return sys.modules[HELPERS]


support = _helpers().support
Timeline = _helpers().Timeline


def prepare_home(world: Any, api_key: str) -> Path:
    """Onboarding done, key approved, project trusted; and the user's own settings, with a Stop hook of theirs."""
    state = {
        "hasCompletedOnboarding": True,
        "customApiKeyResponses": {"approved": [api_key[-20:]], "rejected": []},
        "projects": {str(world.project): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}},
    }
    (world.home / ".claude.json").write_text(json.dumps(state), encoding="utf-8")
    user_hook = f"echo user-stop >> {world.home / 'user-hook.log'}"
    settings = {
        "includeCoAuthoredBy": False,
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": user_hook}]}]},
    }
    path = world.home / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps(settings, indent=3) + "\n", encoding="utf-8")
    return path


async def test_claude_code_hooks_drive_the_daemon(
    agent_world: Any, tmux_socket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command, _version = support().installed_cli("claude")
    user_settings = prepare_home(agent_world, agent_world.env["ANTHROPIC_API_KEY"])
    user_bytes = user_settings.read_bytes()
    for key, value in agent_world.env.items():  # the daemon's tmux server starts with this environment
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("IMCODES_CLAUDE_BINARY", str(command))
    daemon = Daemon(DaemonConfig.create(tmp_path / "d"), make_plugin_host())
    timeline = Timeline()
    daemon.registry.publisher = timeline
    task = asyncio.create_task(daemon.serve(install_signals=False))
    try:
        await asyncio.wait_for(daemon.started.wait(), 10)
        await scenario(daemon, timeline, agent_world)
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 15)
        support().stop_processes_with_home(agent_world.home)

    assert user_settings.read_bytes() == user_bytes, "the user's settings file changed"
    assert not (agent_world.project / ".claude").exists(), "project settings were written"
    assert (agent_world.home / "user-hook.log").read_text().count("user-stop") == 1, "the user's own hook was lost"


async def scenario(daemon: Daemon, timeline: Timeline, world: Any) -> None:
    commands = daemon.commands
    started = json.loads(
        await commands.handle(SessionStart(id="c1", driver="claude", cwd=str(world.project))) or "{}"
    )
    assert started["ok"], started
    name = started["result"]["session"]["name"]
    live = daemon.registry.get(name)

    await timeline.wait(lambda: timeline.of("state.changed") and timeline.states()[-1] == "idle", 40, "idle")
    await type_prompt(commands, name, "Please RUNTOOL now", timeline, live)
    await timeline.wait(lambda: timeline.states()[-1] == "waiting_permission", 30, "waiting_permission")
    assert not world.tool_output.exists(), "the tool ran before it was approved"

    # The dialog on screen may win before the hook arrives (it is newer than the PreToolUse hook); the hook's
    # reading is part of the evidence once it came.
    async def hook_in_evidence() -> bool:
        return any("PermissionRequest hook: Bash" in r.evidence for r in live.verdict.readings)

    await until(hook_in_evidence, 10, "the PermissionRequest hook in the verdict's evidence")
    assert live.verdict.state.value == "waiting_permission", live.verdict.reason

    # the key to press comes from the plugin's parser of the prompt on screen
    async def on_screen() -> Any:
        return permission_prompt(await capture(live))

    prompt = await until(on_screen, 10, "the permission prompt on screen")
    yes = next(choice for choice in prompt.choices if choice.label.startswith("Yes"))
    for _ in range(5):  # a TUI ignores keys for a moment after a dialog appears: resend while the dialog is up
        await commands.handle(TerminalInput(id=None, session=name, data=yes.key))
        await asyncio.sleep(1.0)
        if await on_screen() is None:
            break
    await timeline.wait(lambda: timeline.of("assistant.final"), 30, "assistant.final")
    await timeline.wait(lambda: timeline.states()[-1] == "idle", 10, "idle after the tool")
    assert world.tool_output.exists(), "the approved tool did not run"

    states = timeline.states()
    first_idle = states.index("idle")
    assert dedupe(states[first_idle:]) == ["idle", "working", "waiting_permission", "working", "idle"], states
    # After the prompt, the screen's "esc to interrupt" may beat the UserPromptSubmit hook to "working". The
    # dialog, and the tool running after the approval, may be read off the screen before their hooks come: a
    # screen change newer than the last hook event wins, and says so. Claude's session status file (followed by
    # the daemon, tests/agents/test_claude_status.py) is often read before the hook's process reports, and it is
    # what says working right after the approval. The final idle comes from the Stop hook or that file.
    changes = timeline.of("state.changed")[first_idle + 1 :]
    reasons = [str(e.data["reason"]) for e in changes]
    status_file = "claude-events: sessions/"
    assert reasons[0].startswith(("claude-events: UserPromptSubmit hook", "claude-screen: ", status_file)), reasons
    assert reasons[1].startswith(("claude-events: PermissionRequest hook", "claude-screen: asks ", status_file))
    assert reasons[2].startswith(("claude-events: PostToolUse hook", status_file)) or (
        reasons[2].startswith("claude-screen: ") and "after the last structured reading" in reasons[2]
    ), reasons
    assert reasons[3].startswith(("claude-events: Stop hook", status_file)), reasons
    assert changes[3].data["source"] == "structured"
    assert timeline.infos[-1].state_reason is not None
    final = timeline.infos[-1].state_reason["readings"][0]["evidence"]
    assert final == "Stop hook" or final.endswith(": idle"), final

    assert [e.data["text"] for e in timeline.of("user.prompt")] == ["Please RUNTOOL now"]
    (call,) = timeline.of("tool.call")
    assert call.data["tool"] == "Bash" and "fake_tool_output.txt" in call.data["input"]
    # from the hook (the daemon may announce the question read off the screen too, with its choices)
    assert [e.data["tool"] for e in timeline.of("permission.requested") if e.data.get("via") == "hook"] == ["Bash"]
    assert [e.data["id"] for e in timeline.of("tool.result")] == [call.data["id"]]
    assert [e.data["text"] for e in timeline.of("assistant.final")] == ["The command ran. FAKE_TOOL_DONE"]
    await until(lambda: _shows(live, "FAKE_TOOL_DONE"), 5, "the answer on screen")

    stopped = json.loads(await commands.handle(SessionStop(id="c2", session=name)) or "{}")
    assert stopped["ok"], stopped


async def type_prompt(commands: Any, name: str, text: str, timeline: Timeline, live: Any) -> None:
    """Type, wait until painted, press Enter; verified by the UserPromptSubmit hook, Enter resent if needed."""
    await commands.handle(TerminalInput(id=None, session=name, data=text))
    await until(lambda: _shows(live, text), 10, "the typed text on screen")
    await asyncio.sleep(0.3)
    for _ in range(3):
        await commands.handle(TerminalInput(id=None, session=name, data="\r"))
        try:
            await timeline.wait(lambda: timeline.of("user.prompt"), 3, "user.prompt")
            return
        except AssertionError:
            continue
    raise AssertionError(f"claude did not take {text!r}")


async def capture(live: Any) -> str:
    return str(await live.tmux.run("capture-pane", "-p", "-t", f"={live.name}:"))


async def until(probe: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while not (found := await probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
    return found


def dedupe(states: list[str]) -> list[str]:
    return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


async def _shows(live: Any, text: str) -> bool:
    return text in await capture(live)
