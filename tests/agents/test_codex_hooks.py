"""Codex, the real CLI, run BY THE DAEMON in tmux against the fake model endpoint: state from its hooks.

The daemon launches ``codex`` through the imcodes-codex driver, which installs and trusts imcodes' hooks (and
``notify``) with ``-c`` overrides; every hook runs ``imcodes hook codex``. The test follows the daemon's timeline:
the state sequence with the hook named as evidence, one approval through the daemon's ``permission.answer``
command (the key from imcodes-codex's parser of the question on screen), the chat events, and the user's own
``config.toml`` left byte for byte, with the user's own trusted Stop hook still running.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from imcodes_codex.config import offline_config
from imcodes_codex.hooks import trust_key, trusted_hash
from imcodes_codex.screen import permission_prompt

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

# The default sandbox runs a write in the project without asking: this rule makes Codex ask for "sleep 1 && ...".
RULES = 'prefix_rule(pattern = ["sleep"], decision = "prompt", justification = "imcodes test", match = ["sleep 1"])\n'
HELPERS = "imcodes_agent_cli_daemon_session"


def helpers() -> Any:
    if HELPERS not in sys.modules:
        spec = importlib.util.spec_from_file_location(HELPERS, Path(__file__).with_name("daemon_session.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[HELPERS] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[HELPERS])
    return sys.modules[HELPERS]


def prepare_codex_home(world: Any, base_url: str) -> Path:
    """The fake provider, the project trusted, a prompt rule for the tool, and a trusted Stop hook of the user's."""
    codex = world.home / ".codex"
    (codex / "rules").mkdir(parents=True)
    (codex / "rules" / "default.rules").write_text(RULES, encoding="utf-8")
    user_hook = f"echo user-stop >> {world.home / 'user-hook.log'}"
    key = trust_key("Stop", layer=str(codex / "config.toml"))
    config = offline_config(f"{base_url}/v1", [str(world.project)])
    handler = f'{{ type = "command", command = {json.dumps(user_hook)}, timeout = 3 }}'
    config += f"\n[hooks]\nStop = [{{ hooks = [{handler}] }}]\n"
    config += f"\n[hooks.state.{json.dumps(key)}]\ntrusted_hash = {json.dumps(trusted_hash('Stop', user_hook))}\n"
    (codex / "config.toml").write_text(config, encoding="utf-8")
    return codex / "config.toml"


async def test_codex_hooks_drive_the_daemon(
    agent_world: Any, tmux_socket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_model_endpoint: Any
) -> None:
    kit = helpers()
    command, _version = kit.support().installed_cli("codex")
    config = prepare_codex_home(agent_world, fake_model_endpoint.url)
    user_bytes = config.read_bytes()

    async def scenario(daemon: Any, timeline: Any, name: str, live: Any) -> None:
        await timeline.wait(lambda: timeline.last_state() == "idle", 45, "idle")
        # the start may flicker (the generic screen reading while Codex paints): the turn is judged from here
        prompted_at = len(timeline.of("state.changed")) - 1
        await kit.type_prompt(daemon, timeline, name, live, "Please RUNTOOL now")
        await timeline.wait(lambda: timeline.last_state() == "waiting_permission", 30, "waiting_permission")
        assert not agent_world.tool_output.exists(), "the tool ran before it was approved"
        ack = await kit.approve_once(daemon, name, live, permission_prompt, "Yes")
        assert ack["result"]["choice"] == "y", ack
        await timeline.wait(lambda: timeline.of("assistant.final"), 30, "assistant.final")
        await timeline.wait(lambda: timeline.last_state() == "idle", 10, "idle after the tool")
        assert agent_world.tool_output.exists(), "the approved tool did not run"

        states = timeline.states()
        first_idle = prompted_at
        assert kit.dedupe(states[first_idle:]) == ["idle", "working", "waiting_permission", "working", "idle"], (
            "\n".join(timeline.reasons())
        )
        changes = timeline.of("state.changed")[first_idle + 1 :]
        reasons = [str(e.data["reason"]) for e in changes]
        # the screen may see the prompt leave the input box before the UserPromptSubmit hook says working
        assert reasons[0].startswith(("codex-events: UserPromptSubmit hook", "codex-screen: ")), reasons
        assert len(reasons) == 4, reasons
        assert reasons[1].startswith("codex-events: PermissionRequest hook: Bash"), reasons
        # No hook reports the approval itself: working again comes from the PostToolUse hook, or first from the
        # screen's "Working (1s, esc to interrupt)" once it is newer than the PermissionRequest hook's word.
        answered = "imcodes-answers: permission answered from imcodes"  # working from the answer itself
        assert reasons[2].startswith(("codex-events: PostToolUse hook", "codex-screen: Working", answered)), reasons
        assert reasons[3] == "codex-events: Stop hook", reasons
        assert [changes[n].data["source"] for n in (1, 3)] == ["structured", "structured"], reasons
        assert [e.data["text"] for e in timeline.of("user.prompt")] == ["Please RUNTOOL now"]
        (call,) = timeline.of("tool.call")
        assert call.data["tool"] == "Bash" and "fake_tool_output.txt" in call.data["input"]
        asked = [e.data["tool"] for e in timeline.of("permission.requested") if e.data.get("via") == "hook"]
        assert asked == ["Bash"], timeline.of("permission.requested")
        assert [e.data["choice"] for e in timeline.of("permission.answered")] == ["y"]
        assert [e.data["id"] for e in timeline.of("tool.result")] == [call.data["id"]]
        answer = fake_model_endpoint.behaviour.after_tool_text
        assert [e.data["text"] for e in timeline.of("assistant.final")] == [answer]
        await kit.until(lambda: kit.shows(live, "FAKE_TOOL_DONE"), 5, "the answer on screen")

    await kit.run_daemon(agent_world, tmp_path, monkeypatch, "codex", command, scenario)
    # Codex itself appends its TUI bookkeeping (screen reader detection done, model notices shown) to the user's
    # config.toml on a first run: the user's bytes must come first, unchanged, and nothing else may be added.
    after = config.read_bytes()
    assert after.startswith(user_bytes), "the user's config.toml was rewritten"
    added = tomllib.loads(after[len(user_bytes) :].decode())
    assert set(added) <= {"tui"}, f"config.toml got more than Codex's TUI state: {sorted(added)}"
    assert b"hook codex" not in after and b"<session-flags>" not in after, (
        "imcodes' hooks were written to config.toml"
    )
    assert not (agent_world.home / ".codex" / "hooks.json").exists(), "a hooks.json was written"
    assert (agent_world.home / "user-hook.log").read_text().count("user-stop") >= 1, "the user's own hook was lost"
