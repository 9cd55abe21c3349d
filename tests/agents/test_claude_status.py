"""Claude Code, the real CLI, run BY THE DAEMON: its session status file is followed as a session channel.

After a permission prompt is approved no hook fires until the tool has finished, so the hooks cannot say *working
again*; Claude's ``sessions/<pid>.json`` can (status busy at the keypress). The daemon follows that file through
the driver's ``session_channels`` (imcodes_claude/status.py). The test approves the dialog and asserts that the
file flipped waiting -> busy promptly, that the daemon's state changed to working with that file among its evidence
(the screen, read every 150 ms while output flows, may say it a moment first), and how long after the keypress each
happened (printed; bounded).
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

from imcodes_core.protocol.frames import TerminalInput

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

# Measured on 2 busy cores: keypress -> statusUpdatedAt 40-310 ms, -> file written (Claude writes it 20-150 ms after
# its own stamp) 50-460 ms, file written -> state.changed 2-20 ms. The bounds leave room for a loaded machine; the
# one imcodes controls (written -> state, the channel's polling) is the tight one.
KEY_TO_STATE_BOUND = 1.0
WRITTEN_TO_STATE_BOUND = 0.2


def _load(name: str, file: str) -> Any:
    """A module beside this file (this folder is no package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


kit = _load("imcodes_agent_cli_daemon_session", "daemon_session.py")
claude_test = _load("imcodes_agent_cli_test_claude", "test_claude.py")


async def test_claude_status_file_says_working_right_after_the_approval(
    agent_world: Any, tmux_socket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command, _version = kit.support().installed_cli("claude")
    claude_test.prepare_home(agent_world, agent_world.env["ANTHROPIC_API_KEY"])
    measured: dict[str, float] = {}

    async def scenario(daemon: Any, timeline: Any, name: str, live: Any) -> None:
        await timeline.wait(lambda: timeline.last_state() == "idle", 40, "idle")
        assert [sink.channel for sink in daemon.registry.followers.sinks[name]] == ["claude-status"]
        pane_pid = int(str(await live.tmux.run("display-message", "-p", "-t", f"={name}:", "#{pane_pid}")).strip())
        status_file = agent_world.home / ".claude" / "sessions" / f"{pane_pid}.json"
        assert status_file.is_file(), "no session file for the pane's process (claude runs without a shell)"

        await kit.type_prompt(daemon, timeline, name, live, "Please RUNTOOL now")
        await timeline.wait(lambda: timeline.last_state() == "waiting_permission", 30, "waiting_permission")
        await kit.until(lambda: _async(statuses(live)[-1:] == ["waiting"]), 5, "status waiting from the file")
        assert not agent_world.tool_output.exists(), "the tool ran before it was approved"

        prompt = await kit.until(lambda: _parsed(live), 10, "the permission prompt on screen")
        yes = next(choice for choice in prompt.choices if choice.label.startswith("Yes"))
        await asyncio.sleep(1.0)  # a TUI ignores keys for a moment after a dialog opens
        changes_before = len(timeline.of("state.changed"))
        pressed = 0.0
        for _ in range(3):  # resent only if the TUI ignored it (the file never turned busy)
            pressed = (
                time.time()
            )  # the raw key (as the hooks test sends it): permission.answer reads the screen first
            await daemon.commands.handle(TerminalInput(id=None, session=name, data=str(yes.key)))
            if await _within(live, pressed, 1.5):
                break
        busy = _busy_after(live, pressed)
        assert busy is not None, f"the status file never turned busy after the approval: {statuses(live)}"
        measured["file_flip_ms"] = (busy.at - pressed) * 1000
        measured["file_written_ms"] = (busy.data["written"] - pressed) * 1000
        measured["file_read_ms"] = (busy.data["seen"] - pressed) * 1000

        changed = await timeline.wait(
            lambda: next(
                (e for e in timeline.of("state.changed")[changes_before:] if e.data["state"] == "working"), None
            ),
            5,
            "working after the approval",
        )
        measured["state_ms"] = (changed.at - pressed) * 1000
        reason = str(changed.data["reason"])
        # The file or the screen may say it first (the screen is read every 150 ms while output flows): either
        # way the file's busy must be among the verdict's readings, and the screen only as the newer change.
        from_file = reason.startswith(f"claude-events: sessions/{status_file.name}: busy")
        from_screen = reason.startswith("claude-screen: ") and "after the last structured reading" in reason
        assert from_file or from_screen, timeline.reasons()
        wanted = f"sessions/{status_file.name}: busy"
        await kit.until(
            lambda: _async(any(wanted in r.evidence for r in live.verdict.readings if r.detector == "claude-events")),
            2,
            "the file's busy among the verdict's readings",
        )

        await timeline.wait(lambda: timeline.of("assistant.final"), 30, "assistant.final")
        await timeline.wait(lambda: timeline.last_state() == "idle", 10, "idle after the tool")
        assert agent_world.tool_output.exists(), "the approved tool did not run"
        after_approval = kit.dedupe(timeline.states()[changes_before:])
        assert after_approval == ["working", "idle"], timeline.reasons()
        conversation = json.loads(status_file.read_text())["sessionId"]
        assert live.record.conversation == conversation
        await kit.until(lambda: _async(statuses(live)[-1:] == ["idle"]), 5, "status idle from the file")
        assert statuses(live)[-3:] == ["waiting", "busy", "idle"], statuses(live)

    await kit.run_daemon(agent_world, tmp_path, monkeypatch, "claude", command, scenario)
    print("approval -> " + ", ".join(f"{key} {value:.0f}" for key, value in measured.items()))
    assert measured["state_ms"] - measured["file_written_ms"] <= WRITTEN_TO_STATE_BOUND * 1000, measured
    assert measured["state_ms"] <= KEY_TO_STATE_BOUND * 1000, measured


def statuses(live: Any) -> list[str]:
    return [event.kind.removeprefix("status.") for event in live.events if event.kind.startswith("status.")]


def _busy_after(live: Any, pressed: float) -> Any:
    return next((e for e in live.events if e.kind == "status.busy" and e.at >= pressed - 0.05), None)


async def _parsed(live: Any) -> Any:
    return permission_prompt(await kit.capture(live))


async def _async(value: Any) -> Any:
    return value


async def _within(live: Any, pressed: float, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _busy_after(live, pressed) is not None:
            return True
        await asyncio.sleep(0.02)
    return False
