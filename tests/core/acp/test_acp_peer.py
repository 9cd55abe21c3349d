"""AcpSession and AcpConnection against a real peer process (tiny_agent.py): the JSON-RPC edge cases."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from imcodes_core.acp import (
    AcpConnection,
    AcpConnectionClosedError,
    AcpError,
    AcpRpcError,
    AcpSession,
    AcpTimeoutError,
    PermissionRequest,
)
from imcodes_core.states import SessionState

AGENT = Path(__file__).parent / "tiny_agent.py"
S = SessionState
Spawn = Callable[..., Awaitable[AcpSession]]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
async def spawn(project: Path) -> AsyncIterator[Spawn]:
    """Start tiny_agent.py, initialize and open a session; every agent is stopped (and checked gone) after."""
    sessions: list[AcpSession] = []

    async def start(*args: str, **options: object) -> AcpSession:
        session = AcpSession.spawn(
            [sys.executable, str(AGENT), *args], cwd=project, env=dict(os.environ), request_timeout=10, **options
        )
        sessions.append(session)
        await session.start()
        info = await session.initialize()
        assert info["agentInfo"]["name"] == "tiny-agent"
        assert await session.new_session(project) == "tiny-session-1"
        return session

    yield start
    for session in sessions:
        await session.close(grace=1)
        assert session.connection.pid is not None and not pid_alive(session.connection.pid)


def kinds(session: AcpSession) -> list[str]:
    return [e.kind for e in session.history]


def states(session: AcpSession) -> list[str]:
    """The state trail, repeats merged (a change of detail, thinking to streaming, is a state.changed too)."""
    trail: list[str] = []
    for event in session.history:
        if event.kind == "state.changed" and (not trail or trail[-1] != event.data["state"]):
            trail.append(event.data["state"])
    return trail


def text_of(session: AcpSession) -> str:
    return "".join(e.data["text"] for e in session.history if e.kind == "assistant.delta")


async def test_a_plain_turn_streams_text_and_ends_idle(spawn: Spawn) -> None:
    session = await spawn()
    assert await session.prompt("hello") == "end_turn"
    assert text_of(session) == "Hello there."
    assert states(session) == ["starting", "idle", "working", "idle"]
    assert session.reading.evidence == "session/prompt answered: stopReason end_turn"
    final = [e for e in session.history if e.kind == "assistant.final"]
    assert final[0].data == {"text": "Hello there.", "stop_reason": "end_turn"}
    assert await session.close() == 0
    assert session.state is S.EXITED
    collected = [event.kind async for event in session.events()]  # the stream ends once the agent is gone
    assert collected == kinds(session)


async def test_malformed_lines_are_ignored_without_logging_their_payload(
    spawn: Spawn, caplog: pytest.LogCaptureFixture
) -> None:
    session = await spawn()
    with caplog.at_level(logging.WARNING, logger="imcodes_core.acp.connection"):
        assert await session.prompt("MALFORMED") == "end_turn"
    assert text_of(session) == "still fine"
    assert session.connection.malformed_lines == 2
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "ignored a line that is not JSON-RPC" in logged and "unknown or finished request id" in logged
    assert "this is not json" not in logged and "world" not in logged


async def test_agent_crash_mid_turn_fails_the_prompt_with_the_stderr_tail(spawn: Spawn) -> None:
    session = await spawn()
    with pytest.raises(AcpConnectionClosedError) as raised:
        await session.prompt("CRASH")
    assert "exit status 3" in str(raised.value)
    assert "Fatal: out of cheese" in str(raised.value)
    await session.connection.wait_closed()
    assert session.state is S.ERROR
    assert session.reading.evidence == "agent process exited with status 3: Fatal: out of cheese"
    assert "about to fall over" in text_of(session)
    with pytest.raises(AcpConnectionClosedError):
        await session.prompt("hello")


async def test_file_access_is_confined_to_the_project(spawn: Spawn, project: Path, tmp_path: Path) -> None:
    (project / "notes.txt").write_text("one\ntwo\nthree\n")
    outside = tmp_path / "secret.txt"
    outside.write_text("do not read\n")
    (project / "link").symlink_to(tmp_path)
    session = await spawn()

    await session.prompt(f"READ {project / 'notes.txt'}")
    assert text_of(session) == '{"content": "two\\n"}'  # line 2, limit 1

    for path in (outside, project / ".." / "secret.txt", project / "link" / "secret.txt", Path("notes.txt")):
        session.history.clear()
        await session.prompt(f"READ {path}")
        assert '"code": -32602' in text_of(session), path
        assert "do not read" not in text_of(session)

    session.history.clear()
    await session.prompt(f"WRITE {tmp_path / 'planted.txt'} gotcha")
    assert "outside the session's project folder" in text_of(session)
    assert not (tmp_path / "planted.txt").exists()

    session.history.clear()
    await session.prompt(f"WRITE {project / 'sub' / 'new.txt'} written-by-agent")
    assert text_of(session) == "null"
    assert (project / "sub" / "new.txt").read_text() == "written-by-agent"


async def test_permission_is_routed_to_the_callback_and_answered_in_the_request(spawn: Spawn) -> None:
    asked: list[PermissionRequest] = []

    async def approve(request: PermissionRequest) -> str | None:
        asked.append(request)
        await asyncio.sleep(0.2)  # the phone takes a moment; the agent waits
        option = request.first_option("allow_once")
        return option.id if option else None

    session = await spawn(permission_handler=approve)
    assert await session.prompt("ASK") == "end_turn"
    (request,) = asked
    assert request.title == "rm -rf build" and request.tool_kind == "execute"
    assert [(o.id, o.kind) for o in request.options] == [("yes", "allow_once"), ("no", "reject_once")]
    assert "outcome=yes" in text_of(session)
    assert states(session) == ["starting", "idle", "working", "waiting_permission", "working", "idle"]
    order = kinds(session)
    assert order.index("tool.call") < order.index("permission.requested") < order.index("permission.answered")
    assert order.index("permission.answered") < order.index("tool.result")


@pytest.mark.parametrize("answer", [None, "made-up-option"])
async def test_permission_declined_or_invalid_answers_cancelled(spawn: Spawn, answer: str | None) -> None:
    async def decline(request: PermissionRequest) -> str | None:
        return answer

    session = await spawn(permission_handler=decline)
    assert await session.prompt("ASK") == "cancelled"
    assert "outcome=cancelled" in text_of(session)
    (answered,) = [e for e in session.history if e.kind == "permission.answered"]
    assert answered.data["outcome"] == "cancelled"


async def test_cancel_while_the_human_is_asked_answers_cancelled(spawn: Spawn) -> None:
    asked = asyncio.Event()

    async def never(request: PermissionRequest) -> str | None:
        asked.set()
        await asyncio.Event().wait()  # the phone never answers
        return None

    session = await spawn(permission_handler=never)
    turn = asyncio.ensure_future(session.prompt("ASK"))
    await asyncio.wait_for(asked.wait(), 5)
    assert session.state is S.WAITING_PERMISSION
    await session.cancel()
    assert await asyncio.wait_for(turn, 5) == "cancelled"
    assert session.state is S.IDLE


async def test_permission_timeout_answers_cancelled(spawn: Spawn) -> None:
    async def slow(request: PermissionRequest) -> str | None:
        await asyncio.sleep(30)
        return "yes"

    session = await spawn(permission_handler=slow, permission_timeout=0.3)
    assert await session.prompt("ASK") == "cancelled"


async def test_unsupported_agent_requests_get_method_not_found(spawn: Spawn) -> None:
    session = await spawn()
    assert await session.prompt("UNKNOWN") == "end_turn"
    assert text_of(session) == "error=-32601"


async def test_a_turn_that_never_ends_times_out_and_is_cancelled(spawn: Spawn) -> None:
    session = await spawn()
    with pytest.raises(AcpTimeoutError, match=r"no answer to session/prompt within 0\.5 s"):
        await session.prompt("HANG", time_limit=0.5)
    assert session.state is S.ERROR
    # the agent got session/cancel and is usable again
    assert await session.prompt("hello") == "end_turn"
    assert session.state is S.IDLE


async def test_error_responses_raise_with_code(project: Path) -> None:
    connection = AcpConnection([sys.executable, str(AGENT)], cwd=project, request_timeout=5)
    await connection.start()
    try:
        with pytest.raises(AcpRpcError) as raised:
            await connection.request("no/such/method")
        assert raised.value.code == -32601
    finally:
        assert await connection.close(grace=1) == 0


async def test_shutdown_escalates_to_kill_for_an_agent_that_ignores_everything(project: Path) -> None:
    connection = AcpConnection([sys.executable, str(AGENT), "stubborn"], cwd=project, request_timeout=5)
    await connection.start()
    await connection.request("initialize", {"protocolVersion": 1})
    pid = connection.pid
    assert pid is not None
    assert await connection.close(grace=0.3) == -9
    assert not pid_alive(pid)
    with pytest.raises(AcpConnectionClosedError):
        await connection.request("initialize")


async def test_a_missing_command_is_a_clear_error(project: Path) -> None:
    session = AcpSession.spawn([str(project / "no-such-agent")], cwd=project)
    with pytest.raises(AcpConnectionClosedError, match="cannot start"):
        await session.start()
    with pytest.raises(AcpError, match="new_session"):
        await session.prompt("hello")
