"""Gemini CLI, the real CLI, run BY THE DAEMON in tmux against the fake model endpoint: state from its hooks.

The daemon launches ``gemini`` through the imcodes-gemini driver, which gives the session a ``GEMINI_CLI_HOME`` of
its own whose ``settings.json`` is the user's plus imcodes' hooks; every hook runs ``imcodes hook gemini``. The
test follows the daemon's timeline: the state sequence with the hook named as evidence, one approval through the
daemon's ``permission.answer`` command (the key from imcodes-gemini's parser of the question on screen), the chat
events, and the user's own ``~/.gemini`` files left byte for byte, with the user's own AfterAgent hook still running.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from imcodes_gemini.config import offline_settings, trusted_folders
from imcodes_gemini.screen import permission_prompt

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

HELPERS = "imcodes_agent_cli_daemon_session"


def helpers() -> Any:
    if HELPERS not in sys.modules:
        spec = importlib.util.spec_from_file_location(HELPERS, Path(__file__).with_name("daemon_session.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[HELPERS] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[HELPERS])
    return sys.modules[HELPERS]


def prepare_gemini_home(world: Any) -> list[Path]:
    """Offline settings with an AfterAgent hook of the user's, the project trusted; the files to keep intact."""
    gemini = world.home / ".gemini"
    gemini.mkdir()
    settings = offline_settings()
    user_hook = f"echo user-after >> {world.home / 'user-hook.log'}"
    settings["hooks"] = {"AfterAgent": [{"hooks": [{"name": "mine", "type": "command", "command": user_hook}]}]}
    (gemini / "settings.json").write_text(json.dumps(settings, indent=3) + "\n", encoding="utf-8")
    (gemini / "trustedFolders.json").write_text(json.dumps(trusted_folders([str(world.project)])), encoding="utf-8")
    return [gemini / "settings.json", gemini / "trustedFolders.json"]


async def test_gemini_cli_hooks_drive_the_daemon(
    agent_world: Any, tmux_socket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_model_endpoint: Any
) -> None:
    kit = helpers()
    command, _version = kit.support().installed_cli("gemini")
    user_files = prepare_gemini_home(agent_world)
    user_bytes = [path.read_bytes() for path in user_files]

    async def scenario(daemon: Any, timeline: Any, name: str, live: Any) -> None:
        await timeline.wait(lambda: timeline.last_state() == "idle", 45, "idle")
        await kit.type_prompt(daemon, timeline, name, live, "Please RUNTOOL now")
        await timeline.wait(lambda: timeline.last_state() == "waiting_permission", 30, "waiting_permission")
        assert not agent_world.tool_output.exists(), "the tool ran before it was approved"
        ack = await kit.approve_once(daemon, name, live, permission_prompt, "Allow once")
        await timeline.wait(lambda: timeline.of("assistant.final"), 30, "assistant.final")
        await timeline.wait(lambda: timeline.last_state() == "idle", 10, "idle after the tool")
        assert agent_world.tool_output.exists(), "the approved tool did not run"
        assert ack["result"]["label"] == "Allow once", ack

        states = timeline.states()
        first_idle = states.index("idle")
        assert kit.dedupe(states[first_idle:]) == ["idle", "working", "waiting_permission", "working", "idle"], (
            "\n".join(timeline.reasons())
        )
        changes = timeline.of("state.changed")[first_idle + 1 :]
        reasons = [str(e.data["reason"]) for e in changes]
        assert len(reasons) == 4, reasons
        # The screen may beat the BeforeAgent hook to working (BeforeTool keeps it working): gemini-screen's "esc to
        # cancel", or, while "⠋ Executing Hooks: imcodes" is up (on which gemini-screen says nothing), the generic
        # detector's spinner.
        screen = ("gemini-screen: ", "generic-screen: ")
        assert reasons[0].startswith(("gemini-events: BeforeAgent hook", *screen)), reasons
        assert reasons[1].startswith("gemini-events: Notification hook: Tool Confirm Shell Command"), reasons
        # No hook reports the approval itself: working again comes from the AfterTool hook, or first from the
        # screen ("Executing Hooks: imcodes ..." while our hooks run) once it is newer than the Notification hook.
        answered = "imcodes-answers: permission answered from imcodes (Allow once)"  # working from the answer itself
        assert reasons[2].startswith(("gemini-events: AfterTool hook", answered, *screen)), reasons
        assert reasons[3] == "gemini-events: AfterAgent hook", reasons
        assert [changes[n].data["source"] for n in (1, 3)] == ["structured", "structured"], reasons

        assert [e.data["text"] for e in timeline.of("user.prompt")] == ["Please RUNTOOL now"]
        (call,) = timeline.of("tool.call")  # BeforeTool fires before the question
        assert call.data["tool"] == "run_shell_command" and "fake_tool_output.txt" in call.data["input"]
        (asked,) = [e.data for e in timeline.of("permission.requested") if e.data.get("via") == "hook"]
        assert asked["input"] == fake_model_endpoint.behaviour.tool_command, asked
        assert [e.data["choice"] for e in timeline.of("permission.answered")] == ["1"]
        assert [e.data["tool"] for e in timeline.of("tool.result")] == ["run_shell_command"]
        # AfterAgent's prompt_response is the whole turn's text (the intro before the tool too), and Gemini CLI
        # 0.61.0 repeats streamed chunks in it ("... FAKE_TOOL_DONE command  ran.  FAKE_TOOL_DONE"): the daemon
        # reads the answer from Gemini's own chat file (the hook's transcript_path), exactly the fake's text.
        (after_agent,) = [e for e in live.events if e.kind == "AfterAgent"]
        assert after_agent.data["prompt_response"] != fake_model_endpoint.behaviour.after_tool_text
        assert await asyncio.to_thread(Path(after_agent.data["transcript_path"]).is_file), after_agent.data
        finals = [e.data["text"] for e in timeline.of("assistant.final")]
        assert finals == [fake_model_endpoint.behaviour.after_tool_text], after_agent.data["prompt_response"]
        await kit.until(lambda: kit.shows(live, "FAKE_TOOL_DONE"), 5, "the answer on screen")

    await kit.run_daemon(agent_world, tmp_path, monkeypatch, "gemini", command, scenario)
    assert [path.read_bytes() for path in user_files] == user_bytes, "the user's ~/.gemini files changed"
    assert not (agent_world.project / ".gemini").exists(), "project settings were written"
    assert (agent_world.home / "user-hook.log").read_text().count("user-after") >= 1, "the user's own hook was lost"
