"""Prompts, permission answers and interrupts from the phone, against the scripted fake agent in real tmux."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.hookspecs import hookimpl
from imcodes_core.host import make_plugin_host
from imcodes_core.specs import AgentDriverSpec
from imcodes_core.testing.agent import QUESTION, ScriptedAgent, ScriptedAgentDriver, Turn

pytestmark = pytest.mark.tmux


@dataclass(frozen=True)
class Choice:
    key: str
    label: str


@dataclass(frozen=True)
class Question:
    question: str
    choices: tuple[Choice, ...]


class AskingAgentDriver(ScriptedAgentDriver):
    """The fake agent with a permission parser, as a provider plugin gives its driver (the fake agent reads a
    whole line, so each choice's key ends with Enter)."""

    def permission_prompt(self, screen: str) -> Question | None:
        tail = [line for line in screen.splitlines() if line.strip()][-4:]
        if not any(QUESTION in line for line in tail):
            return None
        return Question(QUESTION, (Choice("y\r", "Yes"), Choice("n\r", "No")))


class FakeAgentPlugin:
    def __init__(self, driver: ScriptedAgentDriver) -> None:
        self.driver = driver

    @hookimpl
    def imcodes_agent_drivers(self) -> list[AgentDriverSpec]:
        return [AgentDriverSpec(name="fake-agent", driver=self.driver, title="Fake agent")]


SCRIPT = ScriptedAgent(
    turns=(
        Turn(when="slow", reply="slow done", work_seconds=20),
        Turn(when="risky", reply="ran {prompt}", ask=True, work_seconds=0.2),
    ),
    fallback=Turn(reply="Done: {prompt}", work_seconds=0.3),
)


async def start_agent(harness: Any, tmp_path: Path) -> str:
    driver = AskingAgentDriver(SCRIPT.write(tmp_path / "agent.json"))
    host = make_plugin_host(load_entry_points=False)
    host.register(FakeAgentPlugin(driver), "fake-agent-test")
    daemon = Daemon(DaemonConfig.create(harness.home), host)
    harness.daemon = daemon
    harness.task = asyncio.create_task(daemon.serve(install_signals=False))
    await asyncio.wait_for(daemon.started.wait(), 10)
    await asyncio.wait_for(daemon.link.connected.wait(), 10)
    peer = harness.peer
    await peer.wait_for(lambda: peer.find("sessions.sync"), what="sessions.sync")
    ack = await peer.command("session.start", driver="fake-agent", cwd=str(tmp_path))
    assert ack["ok"], ack
    name = str(ack["result"]["session"]["name"])
    await wait_state(peer, name, "idle")
    return name


def states(peer: Any, session: str) -> list[str]:
    return [e["data"]["state"] for e in peer.events(session, "state.changed")]


async def wait_state(peer: Any, session: str, state: str, after: int = 0) -> None:
    await peer.wait_for(lambda: state in states(peer, session)[after:], 15, f"state {state} of {session}")


async def test_a_prompt_is_submitted_verified_and_recorded(harness: Any, tmp_path: Path) -> None:
    name = await start_agent(harness, tmp_path)
    peer = harness.peer
    ack = await peer.command("session.prompt", session=name, text="hello there")
    assert ack["ok"], ack
    assert ack["result"]["verified"] is True and ack["result"]["attempts"] in (1, 2)
    await harness.screen_shows(name, "● Done: hello there")
    (prompt,) = peer.events(name, "user.prompt")
    assert prompt["data"] == {"text": "hello there"}
    assert peer.events(name, "input") == []  # delivered by the daemon, not typed: recorded once, as the prompt


async def test_a_busy_agent_refuses_a_prompt_and_an_interrupt_stops_it(harness: Any, tmp_path: Path) -> None:
    name = await start_agent(harness, tmp_path)
    peer = harness.peer
    seen = len(states(peer, name))
    assert (await peer.command("session.prompt", session=name, text="slow job"))["ok"]
    await wait_state(peer, name, "working", seen)
    busy = await peer.command("session.prompt", session=name, text="another one")
    assert not busy["ok"] and "busy" in busy["error"] and "interrupt" in busy["error"]
    assert "another one" not in harness.tmux("capture-pane", "-p", "-t", f"={name}:").stdout

    seen = len(states(peer, name))
    stopped = await peer.command("session.interrupt", session=name)
    assert stopped["ok"] and stopped["result"] == {"keys": ["C-c"]}
    await harness.screen_shows(name, "Interrupted by user")
    await wait_state(peer, name, "idle", seen)
    assert "slow done" not in harness.tmux("capture-pane", "-p", "-t", f"={name}:").stdout
    idle = await peer.command("session.interrupt", session=name)  # a second C-c could end some agents
    assert not idle["ok"] and idle["error"] == "the agent is not working (idle): nothing to interrupt"
    again = await peer.command("session.prompt", session=name, text="after the stop")
    assert again["ok"], again
    await harness.screen_shows(name, "● Done: after the stop")


async def test_a_permission_question_is_announced_and_answered_by_choice(harness: Any, tmp_path: Path) -> None:
    name = await start_agent(harness, tmp_path)
    peer = harness.peer
    assert (await peer.command("session.prompt", session=name, text="risky thing"))["ok"]
    asked = await peer.wait_for(lambda: peer.events(name, "permission.requested"), 15, "permission.requested")
    assert asked[0]["data"]["question"] == QUESTION
    assert [c["label"] for c in asked[0]["data"]["choices"]] == ["Yes", "No"]
    assert "waiting_permission" in states(peer, name)

    busy = await peer.command("session.prompt", session=name, text="not now")
    assert not busy["ok"] and "waiting permission" in busy["error"]
    wrong = await peer.command("permission.answer", session=name, choice="maybe")
    assert not wrong["ok"] and "Yes" in wrong["error"] and "No" in wrong["error"]
    ack = await peer.command("permission.answer", session=name, choice="Yes")
    assert ack["ok"] and ack["result"]["label"] == "Yes", ack
    # working at once, from the answer itself (the question may still be painted on the screen)
    live = harness.daemon.registry.get(name)
    assert live.verdict.state == "working" and "permission answered from imcodes (Yes)" in live.verdict.reason
    await harness.screen_shows(name, "● ran risky thing")
    (answered,) = peer.events(name, "permission.answered")
    assert answered["data"] == {"question": QUESTION, "choice": "y\r", "label": "Yes"}
    nothing = await peer.command("permission.answer", session=name, choice="Yes")
    assert not nothing["ok"] and "no permission question" in nothing["error"]


async def test_a_shell_takes_prompts_but_cannot_answer_permissions(harness: Any, tmp_path: Path) -> None:
    await harness.linked_daemon()
    peer = harness.peer
    name = await harness.start_shell(tmp_path)
    await wait_state(peer, name, "idle")
    ack = await peer.command("session.prompt", session=name, text="echo prompt-$((6*7))")
    assert ack["ok"] and ack["result"]["verified"], ack
    await harness.screen_shows(name, "prompt-42")
    refused = await peer.command("permission.answer", session=name, choice="1")
    assert not refused["ok"] and "cannot read permission questions" in refused["error"]
    unknown = await peer.command("session.prompt", session="absent", text="hi")
    assert not unknown["ok"] and "no session" in unknown["error"]
