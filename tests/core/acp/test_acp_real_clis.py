"""The REAL agent CLIs over ACP, headless and offline against the fake model endpoint (see conftest.py).

Each CLI: initialize, session/new, a text turn (streamed text, ``end_turn``), then a turn where the fake model asks
for a shell tool, so the CLI sends ``session/request_permission``: the callback approves (the tool writes its file)
or rejects it (the file never appears).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from imcodes_core.acp import AcpSession, PermissionRequest
from imcodes_core.states import SessionState

pytestmark = pytest.mark.agent_cli
S = SessionState
CLIS = ["gemini", "opencode", "qwen"]
TOOL_MARK = "FAKE_TOOL_OK"  # what the tool call writes (conftest sets the fake model's command)
TURN_SECONDS = 40


@pytest.fixture
async def open_session(acp_world: Any, acp_cli: Any) -> AsyncIterator[Callable[..., object]]:
    sessions: list[AcpSession] = []

    async def start(cli: str, handler: Callable[[PermissionRequest], object] | None = None) -> AcpSession:
        argv, version = acp_cli(cli)
        session = AcpSession.spawn(
            argv,
            cwd=acp_world.project,
            env=acp_world.env,
            request_timeout=TURN_SECONDS,
            name=cli,
            permission_handler=handler,  # type: ignore[arg-type]
        )
        sessions.append(session)
        await session.start()
        info = await session.initialize()
        assert info["protocolVersion"] == 1
        assert session.agent_info.get("version") == version
        await session.new_session(acp_world.project)
        assert session.state is S.IDLE
        return session

    yield start
    for session in sessions:
        await session.close(grace=2)
        assert session.connection.returncode is not None


def trail(session: AcpSession) -> list[str]:
    states: list[str] = []
    for event in session.history:
        if event.kind == "state.changed" and (not states or states[-1] != event.data["state"]):
            states.append(event.data["state"])
    return states


def since(session: AcpSession, kind: str) -> list[object]:
    """The events after the last ``user.prompt`` (this turn's), of ``kind``."""
    events = list(session.history)
    start = max(i for i, e in enumerate(events) if e.kind == "user.prompt")
    return [e.data for e in events[start:] if e.kind == kind]


def describe(session: AcpSession) -> str:
    lines = [f"  {e.kind}: {str(dict(e.data))[:160]}" for e in session.history]
    return "events:\n" + "\n".join(lines) + f"\nstderr tail:\n{session.connection.stderr_tail()[-1500:]}"


@pytest.mark.parametrize("cli", CLIS)
async def test_real_cli_text_turn_then_approved_tool_turn(
    cli: str, open_session: Callable[..., object], acp_world: Any
) -> None:
    asked: list[PermissionRequest] = []

    async def approve(request: PermissionRequest) -> str | None:
        asked.append(request)
        assert not acp_world.tool_output.exists(), "the tool ran before it was approved"
        option = request.first_option("allow_once")
        return option.id if option else None

    session = await open_session(cli, approve)  # type: ignore[misc]
    assert isinstance(session, AcpSession)

    stop = await asyncio.wait_for(session.prompt("Say hello please"), TURN_SECONDS)
    assert stop == "end_turn", describe(session)
    streamed = "".join(d["text"] for d in since(session, "assistant.delta"))  # type: ignore[index]
    assert streamed == "Hello from the fake model. FAKE_OK", describe(session)
    assert since(session, "assistant.final") == [{"text": streamed, "stop_reason": "end_turn"}]
    assert session.state is S.IDLE
    assert not asked

    stop = await asyncio.wait_for(session.prompt("Please RUNTOOL now"), TURN_SECONDS)
    assert stop == "end_turn", describe(session)
    assert len(asked) == 1, describe(session)
    assert "echo FAKE_TOOL_OK" in asked[0].title or "echo FAKE_TOOL_OK" in str(asked[0].raw_input), asked[0]
    assert asked[0].tool_kind == "execute"
    assert acp_world.tool_output.read_text().strip() == TOOL_MARK
    text = "".join(d["text"] for d in since(session, "assistant.delta"))  # type: ignore[index]
    assert text.endswith("The command ran. FAKE_TOOL_DONE"), describe(session)
    results = since(session, "tool.result")
    assert results and results[-1]["ok"] is True, describe(session)  # type: ignore[index]
    assert trail(session) == [
        "starting",
        "idle",
        "working",
        "idle",
        "working",
        "waiting_permission",
        "working",
        "idle",
    ]
    kinds = [r.reply_kind for r in acp_world.endpoint.requests]
    assert "tool" in kinds and "after_tool" in kinds

    await session.close()
    assert session.state is S.EXITED, describe(session)


@pytest.mark.parametrize("cli", CLIS)
async def test_real_cli_rejected_tool_never_runs(
    cli: str, open_session: Callable[..., object], acp_world: Any
) -> None:
    async def reject(request: PermissionRequest) -> str | None:
        option = request.first_option("reject_once", "reject_always")
        return option.id if option else None

    session = await open_session(cli, reject)  # type: ignore[misc]
    assert isinstance(session, AcpSession)
    stop = await asyncio.wait_for(session.prompt("Please RUNTOOL now"), TURN_SECONDS)
    assert stop in ("end_turn", "cancelled"), describe(session)
    (answered,) = since(session, "permission.answered")
    assert answered["option_kind"] == "reject_once", describe(session)  # type: ignore[index]
    assert not acp_world.tool_output.exists()
    assert session.state is S.IDLE


@pytest.mark.parametrize("cli", CLIS)
async def test_real_cli_cancel_mid_stream_then_next_turn(cli: str, open_session: Callable[..., object]) -> None:
    session = await open_session(cli)  # type: ignore[misc]
    assert isinstance(session, AcpSession)
    turn = asyncio.ensure_future(session.prompt("Say hello SLOWLY please"))  # the fake streams over seconds
    streaming = asyncio.Event()
    session.add_listener(lambda event: streaming.set() if event.kind == "assistant.delta" else None)
    await asyncio.wait_for(streaming.wait(), TURN_SECONDS)
    assert session.state is S.WORKING
    await session.cancel()
    assert await asyncio.wait_for(turn, 15) == "cancelled", describe(session)
    (final,) = since(session, "assistant.final")
    assert final["stop_reason"] == "cancelled"  # type: ignore[index]
    assert "FAKE_OK" not in final["text"]  # type: ignore[index]
    assert session.state is S.IDLE
    assert await asyncio.wait_for(session.prompt("Say hello please"), TURN_SECONDS) == "end_turn"
    assert since(session, "assistant.final")[0]["text"] == "Hello from the fake model. FAKE_OK"  # type: ignore[index]
