"""The hook event channel for Gemini CLI and Codex: a real daemon, a real ``imcodes hook`` subprocess per event.

The daemon runs the imcodes-gemini or imcodes-codex plugin with a stand-in CLI (a script that records its command
line and environment, then waits), so the events replayed from the recorded fixtures are the only source of the
session's state. Only the events the drivers install hooks for are replayed; Codex's ``notify`` calls are replayed
as Codex makes them (the JSON as the last argument, stdin left open).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import imcodes_codex.plugin as codex_plugin
import imcodes_gemini.plugin as gemini_plugin
import pytest
from imcodes_codex.hooks import HOOK_EVENTS as CODEX_HOOKS
from imcodes_gemini.hooks import HOOK_EVENTS as GEMINI_HOOKS

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.host import make_plugin_host

pytestmark = pytest.mark.tmux

ROOT = Path(__file__).resolve().parents[3]
GEMINI_EVENTS = ROOT / "plugins/imcodes-gemini/tests/fixtures/gemini-hooks.jsonl"
CODEX_EVENTS = ROOT / "plugins/imcodes-codex/tests/fixtures/codex-hooks.jsonl"
CODEX_NOTIFY = ROOT / "plugins/imcodes-codex/tests/fixtures/codex-notify.jsonl"
IMCODES = Path(sys.executable).with_name("imcodes")
FAKE_CLI = (
    '#!/bin/sh\nprintf "%s\\n" "$@" > "$0.argv"\nprintf "%s" "$GEMINI_CLI_HOME" > "$0.home"\nexec cat > /dev/null\n'
)


def recorded(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def run_hook(agent: str, env: dict[str, str], stdin: bytes | None, argument: str | None = None) -> float:
    """One ``imcodes hook AGENT`` as the CLI runs it; returns how long it took (it must print nothing, exit 0)."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        str(IMCODES), "hook", agent, *([argument] if argument else []),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    if stdin is not None:
        out, _ = await asyncio.wait_for(process.communicate(stdin), 10)
    else:  # Codex's notify: stdin is never closed, the hook must not wait for it
        assert process.stdout is not None
        out = await asyncio.wait_for(process.stdout.read(), 10)
        await asyncio.wait_for(process.wait(), 10)
        assert process.stdin is not None
        process.stdin.close()
    assert (process.returncode, out) == (0, b"")
    return time.monotonic() - started


async def start_daemon(
    harness: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> tuple[Daemon, Path]:
    fake = tmp_path / f"fake-{name}"
    fake.write_text(FAKE_CLI)
    fake.chmod(0o755)
    monkeypatch.setenv(f"IMCODES_{name.upper()}_BINARY", str(fake))
    host = make_plugin_host(load_entry_points=False)
    plugin = gemini_plugin if name == "gemini" else codex_plugin
    host.register(plugin, name, distribution=f"imcodes-{name}")
    daemon = Daemon(DaemonConfig.create(harness.home), host)
    harness.daemon, harness.task = daemon, asyncio.create_task(daemon.serve(install_signals=False))
    await asyncio.wait_for(daemon.started.wait(), 10)
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    return daemon, fake


async def start_session(harness: Any, fake: Path, driver: str, work: Path) -> tuple[str, list[str]]:
    await asyncio.to_thread(work.mkdir)
    ack = await harness.peer.command("session.start", driver=driver, cwd=str(work))
    assert ack["ok"], ack
    argv_file = Path(f"{fake}.argv")
    await harness.peer.wait_for(argv_file.exists, what=f"the stand-in {driver}'s argv")
    await asyncio.sleep(0.1)  # the script writes its environment right after
    return ack["result"]["session"]["name"], (await asyncio.to_thread(argv_file.read_text)).splitlines()


def states(peer: Any, name: str) -> list[str]:
    return [e["data"]["state"] for e in peer.events(name, "state.changed")]


async def test_gemini_hooks_drive_state_and_chat_events(harness, monkeypatch, tmp_path: Path) -> None:
    user_settings = tmp_path / ".gemini" / "settings.json"  # HOME is tmp_path in the harness
    user_settings.parent.mkdir()
    user_settings.write_text(
        '{\n  // the user\'s own, with a comment\n  "security": {"auth": {"selectedType": "gemini-api-key"}},\n'
        '  "hooks": {"AfterAgent": [{"hooks": [{"type": "command", "command": "true"}]}]}\n}\n'
    )
    user_bytes = user_settings.read_bytes()
    daemon, fake = await start_daemon(harness, monkeypatch, tmp_path, "gemini")
    peer = harness.peer
    name, _argv = await start_session(harness, fake, "gemini", tmp_path / "work")

    # The session's own GEMINI_CLI_HOME: the user's settings plus imcodes' hooks; everything else linked.
    home = Path(await asyncio.to_thread(Path(f"{fake}.home").read_text))
    assert home.is_relative_to(harness.home.resolve()) or home.is_relative_to(harness.home)
    settings = json.loads((home / ".gemini" / "settings.json").read_text())
    assert settings["security"] == {"auth": {"selectedType": "gemini-api-key"}}
    after_agent = settings["hooks"]["AfterAgent"]
    assert after_agent[0]["hooks"][0]["command"] == "true"  # the user's hook first, still there
    assert after_agent[1]["hooks"][0]["command"].endswith("imcodes hook gemini")
    assert sorted(settings["hooks"]) == sorted(GEMINI_HOOKS)
    assert (home / ".gemini" / "tmp").resolve() == (tmp_path / ".gemini" / "tmp").resolve()
    assert user_settings.read_bytes() == user_bytes

    env = {"PATH": os.environ["PATH"], "IMCODES_HOME": str(harness.home), "IMCODES_SESSION": name}
    first_session = [e for e in recorded(GEMINI_EVENTS)[:26] if e["event"] in GEMINI_HOOKS]
    assert [e["event"] for e in first_session].count("BeforeAgent") == 3  # one sent again while starting
    for entry in first_session:
        received = daemon.events.received
        assert await run_hook("gemini", env, json.dumps(entry["payload"]).encode()) < 5
        await peer.wait_for(lambda n=received: daemon.events.received > n, what=entry["event"])

    # SessionStart says starting (weakly): the input box is not painted yet; this stand-in never paints one, so the
    # first idle comes from the first AfterAgent.
    expected = ["starting", "working", "idle", "working", "waiting_permission", "working", "idle", "exited"]
    await peer.wait_for(lambda: states(peer, name) == expected, what=f"states {expected}, got {states(peer, name)}")
    changes = peer.events(name, "state.changed")
    assert all(c["data"]["detector"] == "gemini-events" for c in changes[1:]), changes
    asking = changes[4]["data"]
    assert asking["reason"].startswith("gemini-events: Notification hook: Tool Confirm Shell Command")
    assert changes[6]["data"]["reason"] == "gemini-events: AfterAgent hook"

    assert [e["data"]["text"] for e in peer.events(name, "user.prompt")] == ["say hello", "please RUNTOOL"]
    (call,) = peer.events(name, "tool.call")
    assert call["data"]["tool"] == "run_shell_command" and "echo fake-tool-ran" in call["data"]["input"]
    (asked,) = peer.events(name, "permission.requested")
    assert asked["data"]["via"] == "hook" and "echo fake-tool-ran" in asked["data"]["input"]
    (result,) = peer.events(name, "tool.result")
    assert "Output: (empty)" in result["data"]["output"]
    finals = [e["data"]["text"] for e in peer.events(name, "assistant.final")]
    # the recorded chat file (transcript_path) is not on this machine: prompt_response, its repeats removed
    assert finals == ["Hello from the fake model. FAKE_OK", "Tool finished. FAKE_TOOL_DONE"]
    assert (await peer.command("session.stop", session=name))["ok"]


async def test_codex_hooks_and_notify_drive_state_and_chat_events(harness, monkeypatch, tmp_path: Path) -> None:
    daemon, fake = await start_daemon(harness, monkeypatch, tmp_path, "codex")
    peer = harness.peer
    name, argv = await start_session(harness, fake, "codex", tmp_path / "work")
    overrides = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-c"]
    assert {o.split("=", 1)[0] for o in overrides} == {*(f"hooks.{e}" for e in CODEX_HOOKS), "hooks.state", "notify"}
    notify = next(o for o in overrides if o.startswith("notify="))
    assert json.loads(notify.removeprefix("notify="))[-2:] == ["hook", "codex"]
    assert not (tmp_path / ".codex").exists(), "the user's Codex folder was written"

    # The TUI session of the fixture (thread 01a20d53), hooks and notify calls in the order Codex made them.
    hooks = [(e["t"], "hook", e["payload"]) for e in recorded(CODEX_EVENTS)[8:]]
    notifies = [(e["t"], "notify", e["payload"]) for e in recorded(CODEX_NOTIFY) if e["t"] >= hooks[0][0]]
    assert len(notifies) == 6  # three turns, three title requests
    env = {"PATH": os.environ["PATH"], "IMCODES_HOME": str(harness.home), "IMCODES_SESSION": name}
    for _, channel, payload in sorted(hooks + notifies, key=lambda item: item[0]):
        received = daemon.events.received
        if channel == "hook":
            assert await run_hook("codex", env, json.dumps(payload).encode()) < 5
        else:
            assert await run_hook("codex", env, None, json.dumps(payload)) < 5
        await peer.wait_for(lambda n=received: daemon.events.received > n, what=str(payload)[:80])

    expected = ["starting", "idle", "working", "idle", "working", "waiting_permission", "working", "idle"]
    expected += ["working", "idle"]
    await peer.wait_for(lambda: states(peer, name) == expected, what=f"states {expected}, got {states(peer, name)}")
    changes = peer.events(name, "state.changed")
    assert all(c["data"]["detector"] == "codex-events" for c in changes[1:]), changes
    assert changes[5]["data"]["reason"].startswith("codex-events: PermissionRequest hook: Bash 'echo fake-tool-ran")
    assert changes[-1]["data"]["reason"] == "codex-events: Stop hook"  # the notify after it changes nothing

    prompts = [e["data"]["text"] for e in peer.events(name, "user.prompt")]
    assert prompts == ["say hello", "please RUNTOOL", "injected from phone: say hello"]
    (call,) = peer.events(name, "tool.call")
    (result,) = peer.events(name, "tool.result")
    assert (
        call["data"]["tool"] == "Bash" and result["data"]["id"] == call["data"]["id"] == "call_3f50ba247a5b42289ce0"
    )
    (asked,) = peer.events(name, "permission.requested")
    assert asked["data"]["tool"] == "Bash" and asked["data"]["via"] == "hook"
    finals = [e["data"]["text"] for e in peer.events(name, "assistant.final")]  # notify repeats no Stop's answer
    assert finals == [
        "Hello from the fake model. FAKE_OK",
        "Tool finished. FAKE_TOOL_DONE",
        "Hello from the fake model. FAKE_OK",
    ]

    # A turn that only notify reports (hooks not trusted, say) still gives its answer once.
    (alone,) = [e["payload"] for e in recorded(CODEX_NOTIFY) if e["payload"]["client"] == "codex_exec"][:1]
    received = daemon.events.received
    await run_hook("codex", env, None, json.dumps(alone))
    await peer.wait_for(lambda: daemon.events.received > received, what="the lone notify")
    await peer.wait_for(lambda: len(peer.events(name, "assistant.final")) == 4, what="the notify's answer")
    assert (await peer.command("session.stop", session=name))["ok"]
