"""Interrupt from the phone, against the REAL CLIs: ONE ``session.interrupt`` stops a turn, the next prompt works.

For each tmux CLI a daemon starts a session through the plugin's driver (home prepared as in that CLI's hook or
channel test), against the fake model endpoint. A prompt with the slow keyword makes the fake stream its answer
over ``SLOW_SECONDS``; once the daemon says working and the fake got the request, ONE ``session.interrupt`` goes
(the daemon presses the driver's ``interrupt_keys``). The daemon must read idle again within ``STOP_WITHIN``
seconds, far before the stream could end, the session must still be alive, and the answer must never complete
(``FAKE_OK`` neither on the screen nor in the history the CLI sends with its next request). Then a short prompt
from the phone (``session.prompt``, refused while the daemon thinks the agent busy) must be answered and end idle,
again well before the interrupted stream would have ended.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from imcodes_opencode.config import offline_config as opencode_offline_config

from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.protocol.frames import SessionInterrupt, SessionPrompt
from imcodes_core.testing.model_endpoint import FakeModelEndpoint, RecordedRequest
from imcodes_core.testing.model_wire import Behaviour, chunks

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]

# Codex reports no interrupt through a hook: its screen's "■ Conversation interrupted" says it (codex-screen).
# OpenCode needs two Escapes ~50 ms apart: the daemon pauses between an interrupt's keys (agent_io.py).
CLIS = (
    "claude",
    "codex",
    "gemini",
    "qwen",
    "opencode",
)
SLOW_PROMPT = "Say hello SLOWLY please"
NEXT_PROMPT = "Say hello please"
ANSWER_MARK = "FAKE_OK"  # the end of the fake's answer: only its last streamed piece carries it
SLOW_SECONDS = 24.0  # the slow answer's whole stream: an idle long before it means the turn was cut
PIECE_SECONDS = SLOW_SECONDS / len(chunks(Behaviour().text))  # the fake waits this long before each piece
STOP_WITHIN = 8.0  # from the interrupt to the daemon's idle
NEXT_WITHIN = 15.0  # the next short turn, prompt to answer: a queued prompt behind the slow stream would miss it
READY_SECONDS = 60.0  # offline OpenCode paints after 10-18 s; Gemini CLI and Qwen Code take several seconds
SETTLE_SECONDS = 1.5  # after the first idle: OpenCode redraws once, Gemini CLI may still be initializing


def _load(name: str, file: str) -> Any:
    """A module beside this file (this folder is no package): the harness helpers and the per-CLI home setups."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def kit() -> Any:
    return _load("imcodes_agent_cli_daemon_session", "daemon_session.py")


def resume_kit() -> Any:
    return _load("imcodes_agent_cli_resume_kit", "resume_kit.py")


def prepare(driver: str, world: Any, fake: FakeModelEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's home as its own daemon test prepares it: no onboarding, login or trust screen; offline."""
    if driver == "claude":
        claude = _load("imcodes_agent_cli_test_claude_hooks", "test_claude_hooks.py")
        claude.prepare_home(world, world.env["ANTHROPIC_API_KEY"])
    elif driver == "codex":
        _load("imcodes_agent_cli_test_codex_hooks", "test_codex_hooks.py").prepare_codex_home(world, fake.url)
    elif driver == "gemini":
        _load("imcodes_agent_cli_test_gemini_hooks", "test_gemini_hooks.py").prepare_gemini_home(world)
    elif driver == "qwen":  # read when the daemon's plugin host is made: --auth-type openai, OPENAI_BASE_URL
        monkeypatch.setenv("IMCODES_QWEN_BASE_URL", f"{fake.url}/v1")
        monkeypatch.setenv("IMCODES_QWEN_MODEL", fake.models[0])
    elif driver == "opencode":  # as test_opencode_channel.py
        folder = world.home / ".config" / "opencode"
        folder.mkdir(parents=True)
        (folder / "opencode.json").write_text(json.dumps(opencode_offline_config(f"{fake.url}/v1")), encoding="utf-8")
        monkeypatch.setenv("IMCODES_OPENCODE_OFFLINE", "1")


async def prompt(daemon: Daemon, name: str, text: str) -> dict[str, Any]:
    """``session.prompt`` as the phone sends it; retried while the CLI is still taking no input after its paint."""
    last: dict[str, Any] = {}
    for _ in range(3):
        frame = SessionPrompt(id=f"prompt-{uuid.uuid4().hex[:8]}", session=name, text=text)  # answered once per id
        last = json.loads(await daemon.commands.handle(frame) or "{}")
        if last.get("ok"):
            return dict(last["result"])
        await asyncio.sleep(1.0)
    raise AssertionError(f"session.prompt {text!r} failed: {last}")


def slow_answer(request: RecordedRequest) -> bool:
    """The request the fake answers slowly in text (not a router's or title's JSON, not a token count)."""
    return request.reply_kind == "text" and request.streamed and "SLOWLY" in json.dumps(request.body)


@pytest.mark.parametrize("driver", CLIS)
async def test_one_interrupt_stops_the_turn_and_the_next_prompt_works(
    driver: str,
    agent_world: Any,
    fake_model_endpoint: FakeModelEndpoint,
    tmux_socket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helpers, sessions = kit(), resume_kit()
    command, version = helpers.support().installed_cli(driver)
    fake_model_endpoint.behaviour = replace(fake_model_endpoint.behaviour, slow_seconds=SLOW_SECONDS)
    prepare(driver, agent_world, fake_model_endpoint, monkeypatch)
    timings: dict[str, float] = {}
    began = time.monotonic()
    async with sessions.running_daemon(helpers, agent_world, tmp_path, monkeypatch, driver, command) as (
        daemon,
        timeline,
    ):
        name = (await sessions.start(daemon, driver, agent_world.project))["name"]
        live = daemon.registry.get(name)

        def state() -> str:
            return str(sessions.last_state(timeline, name))

        def trail() -> str:
            return "\n".join(
                f"{e.data['state']}: {e.data['reason']}" for e in sessions.of(timeline, name, "state.changed")
            )

        async def fail(why: str) -> None:
            raise AssertionError(
                f"{driver} {version}: {why}\n{trail()}\n--- screen ---\n{await helpers.capture(live)}"
            )

        await timeline.wait(lambda: state() == "idle", READY_SECONDS, f"{driver} idle")
        await asyncio.sleep(SETTLE_SECONDS)
        await timeline.wait(lambda: state() == "idle", 10, f"{driver} idle again")
        timings["ready"] = time.monotonic() - began

        fake_model_endpoint.clear()
        prompted = time.monotonic()
        await prompt(daemon, name, SLOW_PROMPT)
        await timeline.wait(lambda: state() == "working", 15, f"{driver} working")
        timings["working"] = time.monotonic() - prompted
        # Mid-answer, as a user stops an answer going wrong, once the fake sent its first piece (not every CLI
        # paints a partial line). Before any text came, Claude Code puts the prompt back on its input line.
        await asyncio.to_thread(fake_model_endpoint.wait_for, slow_answer, 15)
        await asyncio.sleep(PIECE_SECONDS + 1.0)
        timings["streaming"] = time.monotonic() - prompted

        interrupted = time.monotonic()
        ack = json.loads(await daemon.commands.handle(SessionInterrupt(id="interrupt", session=name)) or "{}")
        assert ack.get("ok"), ack
        try:
            await timeline.wait(lambda: state() == "idle", STOP_WITHIN, f"{driver} idle after one interrupt")
        except AssertionError as late:
            await fail(f"{late} (keys {ack['result']['keys']})")
        timings["stopped"] = time.monotonic() - interrupted
        idle_reason = str(sessions.of(timeline, name, "state.changed")[-1].data["reason"])
        await asyncio.sleep(1.0)  # idle must hold, not flicker while the CLI goes on streaming
        if state() != "idle" or sessions.of(timeline, name, "session.exited"):
            await fail(f"not idle and alive a second after the interrupt (keys {ack['result']['keys']})")
        if await helpers.shows(live, ANSWER_MARK):
            await fail("the interrupted answer completed on screen")
        finals = [str(e.data.get("text", "")) for e in sessions.of(timeline, name, "assistant.final")]
        assert not any(ANSWER_MARK in text for text in finals), finals

        fake_model_endpoint.clear()
        asked = time.monotonic()
        await prompt(daemon, name, NEXT_PROMPT)
        try:
            await helpers.until(lambda: helpers.shows(live, ANSWER_MARK), NEXT_WITHIN, "the next answer on screen")
            await timeline.wait(lambda: state() == "idle", 10, f"{driver} idle after the next turn")
        except AssertionError as late:
            await fail(str(late))
        timings["next turn"] = time.monotonic() - asked
        # The CLI's next request carries its history: the interrupted answer must not be complete in it.
        request: RecordedRequest = await asyncio.to_thread(
            fake_model_endpoint.wait_for, lambda r: r.reply_kind == "text" and NEXT_PROMPT in json.dumps(r.body), 5
        )
        history = json.dumps(request.body)  # Gemini CLI leaves the cancelled exchange out of it altogether
        assert ANSWER_MARK not in history, "the interrupted answer was sent back as complete"
        assert "exited" not in sessions.of(timeline, name, "state.changed")[-1].data["state"]
        await sessions.stop(daemon, name)
    summary = ", ".join(f"{what} {seconds:.1f}s" for what, seconds in timings.items())
    print(f"{driver} {version}: interrupt keys {ack['result']['keys']}; {summary}; idle from {idle_reason!r}")
