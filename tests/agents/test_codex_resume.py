"""Codex, the real CLI, resumed through the daemon: the conversation id its hooks report, then resume=<id>.

A turn runs through the daemon against the fake model endpoint; the daemon keeps the ``session_id`` Codex's hooks
report (its thread id) as the session's conversation. The session is stopped and a new one is started with
``resume`` set to that id (the driver runs ``codex ... resume <id> --no-daemon``). Codex's evidence that it
continued the conversation: its SessionStart hook says ``source: "resume"`` with the same id, the earlier answer is
on the new pane's screen, and the next request to the model carries the earlier prompt and answer in its input.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from imcodes_codex.config import offline_config

pytestmark = [pytest.mark.agent_cli, pytest.mark.tmux, pytest.mark.slow]


def _load(name: str, file: str) -> Any:
    """A helper module beside this file (this folder is no package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


async def test_codex_resumes_an_earlier_conversation(
    agent_world: Any, tmux_socket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_model_endpoint: Any
) -> None:
    kit = _load("imcodes_agent_cli_daemon_session", "daemon_session.py")
    resume = _load("imcodes_agent_cli_resume_kit", "resume_kit.py")
    command, _version = kit.support().installed_cli("codex")
    codex = agent_world.home / ".codex"
    codex.mkdir()
    (codex / "config.toml").write_text(offline_config(f"{fake_model_endpoint.url}/v1", [str(agent_world.project)]))
    answer = fake_model_endpoint.behaviour.text
    async with resume.running_daemon(kit, agent_world, tmp_path, monkeypatch, "codex", command) as (daemon, timeline):
        first = await resume.start(daemon, "codex", agent_world.project)
        assert first["conversation"] is None  # a new conversation: Codex has not said yet
        name, live = first["name"], daemon.registry.get(first["name"])
        assert await resume.turn(kit, daemon, timeline, name, live, resume.FIRST_PROMPT) == answer
        reported = [str(e.data["session_id"]) for e in live.events if e.kind == "SessionStart"]
        assert reported and reported[-1] == live.info().conversation, reported
        conversation = reported[-1]
        rollouts = await asyncio.to_thread(
            lambda: list((codex / "sessions").rglob(f"rollout-*-{conversation}.jsonl"))
        )
        assert rollouts, "Codex's rollout file for the id is not in ~/.codex/sessions"
        await resume.stop(daemon, name)
        exited = resume.of(timeline, name, "session.exited")
        assert exited[-1].data == {"status": "stopped", "conversation": conversation}
        # the only session's stop ends the tmux server: a start racing its exit fails (not this test's subject)
        await kit.until(lambda: resume.no_tmux_server(tmux_socket), 10, "the emptied tmux server to exit")

        again = await resume.start(daemon, "codex", agent_world.project, resume=conversation)
        assert again["conversation"] == conversation
        name, live = again["name"], daemon.registry.get(again["name"])
        await kit.until(lambda: kit.shows(live, "FAKE_OK"), 30, "the earlier answer on the resumed screen")

        fake_model_endpoint.clear()
        assert await resume.turn(kit, daemon, timeline, name, live, resume.SECOND_PROMPT) == answer
        started = [e.data for e in live.events if e.kind == "SessionStart"]
        assert [(s.get("source"), s.get("session_id")) for s in started][-1] == ("resume", conversation), started
        request = await asyncio.to_thread(
            fake_model_endpoint.wait_for, lambda r: r.reply_kind == "text" and resume.SECOND_PROMPT in str(r.body), 10
        )
        history = resume.role_texts(request.body)
        assert resume.FIRST_PROMPT in history.get("user", ""), history
        assert answer in history.get("assistant", ""), history
        assert live.info().conversation == conversation
        await resume.stop(daemon, name)
