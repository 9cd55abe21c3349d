"""A scripted fake coding agent: a real program that behaves like an agent TUI in a tmux pane.

Run it as ``python -m imcodes_core.testing.agent --script FILE [--events FILE]`` or build the command from a
:class:`ScriptedAgent`. It prints a banner and a prompt; for each line typed it shows a spinner line ending in
"esc to interrupt" while it "works", optionally asks "Do you want to proceed? (y/n)" and waits for the answer,
prints the reply and returns to the prompt. ``/exit`` (or end of input) quits. Ctrl-C while working interrupts
the turn. Each step of that is also written as a JSON line to the events file, shaped like agent hooks
(``SessionStart``, ``UserPromptSubmit``, ``PermissionRequest``, ``Stop``, ``SessionEnd``), so detectors that read
structured events can be tested against the same run as screen detectors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from imcodes_core.drivers import InputDelivery, LaunchPlan, LaunchRequest, ProcessDriver
from imcodes_core.states import AgentEvent

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
QUESTION = "Do you want to proceed? (y/n)"
EVENTS_ENV = "IMCODES_FAKE_AGENT_EVENTS"


@dataclass(frozen=True, slots=True)
class Turn:
    """How the agent answers one prompt. ``when`` (a substring) picks the turn; empty matches any prompt.

    ``reply`` may use ``{prompt}``. ``ask`` raises the permission question before replying; a "n" answer prints
    ``denied`` instead. ``exit_code`` makes the agent exit after this turn (a crash, when not 0).
    """

    reply: str = "Done: {prompt}"
    when: str = ""
    work_seconds: float = 0.3
    ask: bool = False
    denied: str = "Not allowed; nothing was run."
    exit_code: int | None = None


@dataclass(frozen=True, slots=True)
class ScriptedAgent:
    """The whole script. Turns are used once each, in order, the first whose ``when`` matches; then ``fallback``."""

    name: str = "fake-agent"
    banner: str = "Fake Agent 1.0 (imcodes test kit)"
    prompt: str = "❯ "
    turns: tuple[Turn, ...] = ()
    fallback: Turn = field(default_factory=Turn)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> ScriptedAgent:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("an agent script is a JSON object")
        known = {"name", "banner", "prompt", "turns", "fallback"}
        if unknown := set(data) - known:
            raise ValueError(f"unknown keys in the agent script: {', '.join(sorted(unknown))}")
        turns = tuple(_turn(t) for t in data.get("turns", ()))
        fallback = _turn(data["fallback"]) if "fallback" in data else Turn()
        rest = {k: str(data[k]) for k in ("name", "banner", "prompt") if k in data}
        return cls(turns=turns, fallback=fallback, **rest)

    def write(self, path: Path) -> Path:
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    def argv(self, script: Path, events: Path | None = None) -> list[str]:
        """The command that runs this script (write it first with :meth:`write`)."""
        command = [sys.executable, "-m", "imcodes_core.testing.agent", "--script", str(script)]
        return [*command, "--events", str(events)] if events is not None else command


def _turn(data: Any) -> Turn:
    if not isinstance(data, dict):
        raise ValueError(f"a turn is a JSON object, got {data!r}")
    try:
        return Turn(**data)
    except TypeError as exc:
        raise ValueError(f"bad turn {data!r}: {exc}") from None


class ScriptedAgentDriver(ProcessDriver):
    """A driver that launches the fake agent, so the daemon and plugins can run a whole session without a CLI."""

    name = "fake-agent"
    input_delivery = InputDelivery.SEND_KEYS
    executable: str | None = None

    def __init__(self, script: Path, events: Path | None = None) -> None:
        self.script = script
        self.events = events

    def launch_plan(self, request: LaunchRequest) -> LaunchPlan:
        env = {**request.env, "IMCODES_SESSION": request.session}
        argv = [sys.executable, "-m", "imcodes_core.testing.agent", "--script", str(self.script)]
        if self.events is not None:
            argv += ["--events", str(self.events)]
        return LaunchPlan([*argv, *request.extra_args], env, request.cwd)

    def installed_version(self) -> str | None:
        return "1.0"


def read_events(path: Path) -> list[AgentEvent]:
    """The events a fake agent wrote, as :class:`AgentEvent` records (a missing file has none)."""
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            events.append(AgentEvent(str(data.pop("event")), float(data.pop("at")), data))
    return events


class _Session:
    def __init__(self, agent: ScriptedAgent, events: Path | None, out: TextIO, inp: TextIO) -> None:
        self.agent = agent
        self.events = events
        self.out = out
        self.inp = inp
        self.unused = list(agent.turns)

    def emit(self, event: str, **data: Any) -> None:
        if self.events is None:
            return
        record = {"event": event, "at": time.time(), "session": os.environ.get("IMCODES_SESSION", ""), **data}
        with self.events.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def say(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    def pick(self, prompt: str) -> Turn:
        for turn in self.unused:
            if turn.when in prompt:
                self.unused.remove(turn)
                return turn
        return self.agent.fallback

    def work(self, seconds: float) -> None:
        started = time.monotonic()
        frame = 0
        while (elapsed := time.monotonic() - started) < seconds:
            self.say(f"\r\x1b[2K{SPINNER[frame % len(SPINNER)]} Working… ({elapsed:.0f}s · esc to interrupt)", end="")
            frame += 1
            time.sleep(min(0.1, max(0.0, seconds - elapsed)))
        self.say("\r\x1b[2K", end="")

    def turn(self, prompt: str) -> int | None:
        turn = self.pick(prompt)
        self.emit("UserPromptSubmit", prompt=prompt)
        try:
            self.work(turn.work_seconds)
        except KeyboardInterrupt:
            self.say("\r\x1b[2KInterrupted by user")
            self.emit("Stop", reason="interrupted")
            return None
        if turn.ask:
            self.say(f"Tool: shell (echo {prompt[:40]!r})")
            self.say(QUESTION)
            self.emit("PermissionRequest", tool="shell")
            answer = self.inp.readline()
            # like a real TUI the dialog goes away once answered (with the answer's echo when input is a tty)
            self.say(f"\x1b[{3 if self.inp.isatty() else 2}A\r\x1b[J", end="")
            if not answer.strip().lower().startswith("y"):
                self.say(f"● {turn.denied}")
                self.emit("Stop", reason="denied")
                return turn.exit_code
            self.emit("PermissionGranted", tool="shell")
        self.say("● " + turn.reply.replace("{prompt}", prompt))
        self.emit("Stop", reason="end_turn")
        return turn.exit_code

    def run(self) -> int:
        self.emit("SessionStart", agent=self.agent.name)
        self.say(self.agent.banner)
        self.say()
        while True:
            self.say(self.agent.prompt, end="")
            try:
                line = self.inp.readline()
            except KeyboardInterrupt:
                self.say()
                continue
            if not line or line.strip() == "/exit":
                self.say("Bye.")
                self.emit("SessionEnd", reason="exit")
                return 0
            if not line.strip():
                continue
            code = self.turn(line.strip())
            if code is not None:
                self.emit("SessionEnd", reason="script", exit_code=code)
                return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m imcodes_core.testing.agent", description="A scripted fake coding agent for tests."
    )
    parser.add_argument("--script", type=Path, help="a JSON ScriptedAgent; without it, the default script")
    parser.add_argument("--events", type=Path, help=f"append JSON-line events here (default: ${EVENTS_ENV})")
    args = parser.parse_args(argv)
    try:
        agent = ScriptedAgent.from_json(args.script.read_text(encoding="utf-8")) if args.script else ScriptedAgent()
    except (OSError, ValueError) as exc:
        print(f"fake agent: cannot read the script: {exc}", file=sys.stderr)
        return 2
    events = args.events or (Path(os.environ[EVENTS_ENV]) if os.environ.get(EVENTS_ENV) else None)
    return _Session(agent, events, sys.stdout, sys.stdin).run()


if __name__ == "__main__":
    sys.exit(main())
