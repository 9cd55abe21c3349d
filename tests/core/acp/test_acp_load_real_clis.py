"""ACP ``session/load`` with the REAL agent CLIs, offline against the fake model endpoint (see conftest.py).

A first agent process has one turn and stops; a second process of the same CLI reloads the session: the replay
holds the first prompt, and the next model request the CLI makes carries it (the earlier turn is in context).
Gemini CLI 0.61.0 offers ``loadSession`` but its load fails offline ("No previous sessions found for this
project", JSON-RPC -32603) although the chat file is written; that is asserted so a fixed version shows up.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from imcodes_core.acp import AcpRpcError, AcpSession

pytestmark = pytest.mark.agent_cli
WORD = "ZEBRAQUUX"
SECONDS = 40


@pytest.fixture
async def spawn(acp_world: Any) -> AsyncIterator[Callable[[list[str]], Any]]:
    sessions: list[AcpSession] = []

    async def start(argv: list[str]) -> AcpSession:
        session = AcpSession.spawn(argv, cwd=acp_world.project, env=acp_world.env, request_timeout=SECONDS)
        sessions.append(session)
        await session.start()
        await session.initialize()
        assert session.can_load
        return session

    yield start
    for session in sessions:
        await session.close(grace=2)


async def first_turn(spawn: Callable[[list[str]], Any], argv: list[str], project: Any) -> str:
    first = await spawn(argv)
    session_id = str(await first.new_session(project))
    assert await first.prompt(f"Remember the word {WORD}.", SECONDS) == "end_turn"
    await first.close(grace=2)
    return session_id


@pytest.mark.parametrize("cli", ["qwen", "opencode"])
async def test_a_reloaded_session_replays_the_earlier_turn_and_sends_it_to_the_model(
    cli: str, acp_world: Any, acp_cli: Any, spawn: Any
) -> None:
    argv, _version = acp_cli(cli)
    session_id = await first_turn(spawn, argv, acp_world.project)

    second = await spawn(argv)
    replayed = await second.load_session(session_id, acp_world.project, time_limit=SECONDS)
    prompts = [e.data["text"] for e in replayed if e.kind == "user.prompt"]
    answers = [e.data["text"] for e in replayed if e.kind == "assistant.final"]
    assert prompts == [f"Remember the word {WORD}."] and "FAKE_OK" in answers[-1]
    assert all(e.data["replayed"] is True for e in replayed)
    assert str(second.state) == "idle" and second.session_id == session_id

    seen = len(acp_world.endpoint.requests)
    assert await second.prompt("Which word was it?", SECONDS) == "end_turn"
    later = [json.dumps(r.body) for r in acp_world.endpoint.requests[seen:] if r.api.startswith("openai")]
    assert any(WORD in body and "Which word was it?" in body for body in later)


async def test_gemini_offers_load_session_but_cannot_load_offline(acp_world: Any, acp_cli: Any, spawn: Any) -> None:
    argv, _version = acp_cli("gemini")
    session_id = await first_turn(spawn, argv, acp_world.project)
    second = await spawn(argv)
    with pytest.raises(AcpRpcError) as failure:
        await second.load_session(session_id, acp_world.project, time_limit=SECONDS)
    assert failure.value.code == -32603 and "No previous sessions found" in json.dumps(failure.value.data)
    assert second.session_id is None
