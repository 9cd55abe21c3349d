"""AcpSession.load_session (ACP ``session/load``) against a real peer process (tiny_agent.py ``loadable``): the
earlier conversation is replayed, joined into messages and returned, not emitted; refusals are AcpErrors."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from imcodes_core.acp import AcpError, AcpRpcError, AcpSession
from imcodes_core.acp.events import replayed_conversation
from imcodes_core.states import AgentEvent

AGENT = Path(__file__).parent / "tiny_agent.py"
Spawn = Callable[..., Awaitable[AcpSession]]


@pytest.fixture
async def spawn(tmp_path: Path) -> AsyncIterator[Spawn]:
    """Start and initialize tiny_agent.py in tmp_path (its store of sessions); every agent is stopped after."""
    sessions: list[AcpSession] = []

    async def start(*args: str) -> AcpSession:
        argv = [sys.executable, str(AGENT), *args]
        session = AcpSession.spawn(argv, cwd=tmp_path, env=dict(os.environ), request_timeout=10)
        sessions.append(session)
        await session.start()
        await session.initialize()
        return session

    yield start
    for session in sessions:
        await session.close(grace=1)


async def test_a_loaded_session_has_its_earlier_turns_in_context_and_returns_them_as_a_replay(
    spawn: Spawn, tmp_path: Path
) -> None:
    first = await spawn("loadable")
    assert first.can_load
    session_id = await first.new_session(tmp_path)
    assert await first.prompt("hello") == "end_turn"
    assert await first.prompt("RECALL") == "end_turn"
    await first.close(grace=1)

    second = await spawn("loadable")
    replayed = await second.load_session(session_id, tmp_path)
    assert [(e.kind, dict(e.data)) for e in replayed] == [
        ("user.prompt", {"text": "hello", "replayed": True}),
        ("assistant.final", {"text": "Hello there.", "replayed": True}),  # two streamed chunks, joined
        ("user.prompt", {"text": "RECALL", "replayed": True}),
        ("assistant.final", {"text": "earlier: hello", "replayed": True}),
    ]
    history = [e.kind for e in second.history]
    assert "user.delta" not in history and "assistant.delta" not in history  # the replay is not this session's
    assert second.session_id == session_id and str(second.state) == "idle"
    assert "session/load answered" in second.reading.evidence

    assert await second.prompt("RECALL") == "end_turn"  # the agent answers from the loaded conversation
    final = [e for e in second.history if e.kind == "assistant.final"][-1]
    assert final.data["text"] == "earlier: hello | RECALL"


async def test_an_agent_without_load_session_is_refused_before_anything_is_sent(spawn: Spawn) -> None:
    agent = await spawn()
    assert not agent.can_load
    with pytest.raises(AcpError, match="does not offer session/load"):
        await agent.load_session("tiny-session-1", Path.cwd())
    assert agent.session_id is None


async def test_a_load_the_agent_refuses_is_an_rpc_error_and_leaves_no_session(spawn: Spawn, tmp_path: Path) -> None:
    agent = await spawn("load-fails")
    assert agent.can_load
    with pytest.raises(AcpRpcError) as failure:
        await agent.load_session("tiny-whatever", tmp_path)
    assert failure.value.code == -32603
    assert agent.session_id is None and str(agent.state) == "starting"
    with pytest.raises(AcpError, match="no session"):
        await agent.prompt("hello")


def test_a_replay_is_joined_per_message_and_keeps_tools_but_not_states() -> None:
    events = [
        AgentEvent("state.changed", 1, {"state": "working"}),
        AgentEvent("user.delta", 1, {"text": "fix "}),
        AgentEvent("user.delta", 1, {"text": "it"}),
        AgentEvent("thinking", 2, {"text": "hm"}),
        AgentEvent("tool.call", 3, {"tool_call_id": "t1", "title": "ls"}),
        AgentEvent("assistant.delta", 4, {"text": "do", "message_id": "m1"}),
        AgentEvent("assistant.delta", 4, {"text": "ne", "message_id": "m1"}),
        AgentEvent("assistant.delta", 5, {"text": "again", "message_id": "m2"}),
    ]
    assert [(e.kind, dict(e.data)) for e in replayed_conversation(events)] == [
        ("user.prompt", {"text": "fix it", "replayed": True}),
        ("thinking", {"text": "hm", "replayed": True}),
        ("tool.call", {"tool_call_id": "t1", "title": "ls", "replayed": True}),
        ("assistant.final", {"text": "done", "message_id": "m1", "replayed": True}),
        ("assistant.final", {"text": "again", "message_id": "m2", "replayed": True}),
    ]
