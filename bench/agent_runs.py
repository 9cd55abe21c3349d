"""Scripted turns through the REAL agent CLIs, each run BY THE DAEMON, with ground truth kept apart from it.

Every CLI runs as a session of the real :class:`Daemon` (its own tmux socket, hook event socket, commands), the way
tests/agents' daemon tests run it: the driver's launch plan with its machine channels active (Claude's hooks and
status file, Codex's hooks and notify, Gemini's hooks in a per-session GEMINI_CLI_HOME, Qwen's ``--json-file``,
OpenCode's SSE on a per-session port with its password; OpenClaw has none, screen only). Input and approvals are
keys typed into the pane through the daemon's ``terminal.input`` (never ``permission.answer``, whose own "answered"
reading would stand in for what the agent reports). The measured states are the daemon's ``state.changed`` events.

The script never waits on the daemon: it drives each turn by the ground truth (the fake endpoint's requests and
the tests' screen markers read every 50 ms by :class:`TruthWatch`), so a detector that misses cannot stall it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.agent_clis import RECIPES, Markers, Recipe, ScreenMarkers, installed_cli, make_world
from bench.agent_clis import stop_processes_with_home as stop_home
from imcodes_core.daemon.registry import NullPublisher
from imcodes_core.protocol.frames import TimelineEvent
from imcodes_core.states import SessionState as S
from imcodes_core.testing.model_endpoint import FakeModelEndpoint

__all__ = ["RECIPES", "Run", "run_daemon"]

TRUTH_POLL = 0.05
SETTLE = 1.0  # after a turn's truth idle, before the next prompt: time for a detector to get there too
MODEL_KINDS = ("text", "tool", "after_tool", "json")  # a request that makes the model work (not count/list)
TEXT_PROMPT, TOOL_PROMPT = "Say hello SLOWLY please", "Please RUNTOOL now"
SLOW_SECONDS = 2.0  # as the tests' world: the slow answer streams over this long


@dataclass
class Run:
    """One CLI's run: ground-truth transitions and detected changes, all in time.monotonic() seconds."""

    cli: str
    channel: str = ""
    truth: list[tuple[S, float, str]] = field(default_factory=list)  # state, time, what proved it
    detected: list[tuple[S, float, str]] = field(default_factory=list)  # state, time, source
    turn_ends: list[float] = field(default_factory=list)  # when each turn was over (the state must be idle)
    error: str = ""


class TruthWatch:
    """Reads the pane every 50 ms: the tests' marker verdict, the screen, whether the pane is dead."""

    def __init__(self, capture: Callable[[], tuple[str, bool]], markers: Markers) -> None:
        self.capture = capture
        self.markers = ScreenMarkers(markers)
        self.samples: list[tuple[float, S | None, str, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="truth", daemon=True)

    def start(self) -> TruthWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                screen, dead = self.capture()
            except (RuntimeError, subprocess.TimeoutExpired):
                screen, dead = "", True
            self.samples.append((time.monotonic(), self.markers.read(screen), screen, dead))
            self._stop.wait(TRUTH_POLL)

    def first(self, test: Callable[[S | None, str, bool], bool], after: float) -> float | None:
        return next(
            (t for t, state, screen, dead in list(self.samples) if t >= after and test(state, screen, dead)), None
        )

    def wait(self, test: Callable[[S | None, str, bool], bool], after: float, timeout: float, what: str) -> float:
        deadline = time.monotonic() + timeout
        while (found := self.first(test, after)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {timeout} s")
            time.sleep(TRUTH_POLL)
        return found


# -- the script: driven by the ground truth ----------------------------------------------------------------------


class Script:
    """Types the turns and records the ground truth; ``send`` writes raw terminal input."""

    def __init__(
        self, run: Run, recipe: Recipe, watch: TruthWatch, endpoint: FakeModelEndpoint, send: Callable[[str], None]
    ) -> None:
        self.run, self.recipe, self.watch, self.endpoint, self.send = run, recipe, watch, endpoint, send
        self.clock = time.time() - time.monotonic()  # the endpoint records wall-clock arrival times

    def requests_after(self, after: float) -> list[tuple[float, str]]:
        return [
            (r.at - self.clock, r.reply_kind)
            for r in self.endpoint.requests
            if r.reply_kind in MODEL_KINDS and r.at - self.clock >= after
        ]

    def truth(self, state: S, at: float, proof: str) -> None:
        self.run.truth.append((state, at, proof))

    def play(self, turns: int) -> None:
        started = self.watch.samples[0][0] if self.watch.samples else time.monotonic()
        ready = self.watch.wait(lambda s, _, __: s is S.IDLE, started, self.recipe.ready_timeout, "input box")
        self.truth(S.IDLE, ready, "markers: input ready")
        time.sleep(SETTLE)
        for turn in range(turns):
            tool = bool(self.recipe.approve) and turn > 0
            self.turn(TOOL_PROMPT if tool else TEXT_PROMPT, tool)
        typed = self.submit(self.recipe.exit_line, expect_request=False)
        dead = self.watch.wait(lambda _, __, d: d, typed, 20, "dead pane")
        self.truth(S.EXITED, dead, "pane dead")
        time.sleep(SETTLE)

    def submit(self, text: str, *, expect_request: bool = True) -> float:
        """Type, wait until painted, Enter; resend Enter while no model request came (a TUI may swallow one)."""
        begun = time.monotonic()
        self.send(text)
        self.watch.wait(lambda _, screen, __: text in screen, begun, 10, f"typed {text!r}")
        time.sleep(0.3)
        for _ in range(3):
            pressed = time.monotonic()
            self.send("\r")
            if not expect_request:
                return begun
            while not self.requests_after(begun):
                # taken when its screen works (OpenClaw's first request may come 10 s later): no second Enter
                taken = self.watch.first(lambda s, _, __: s is S.WORKING, pressed) is not None
                if time.monotonic() > pressed + (self.recipe.turn_timeout if taken else 3):
                    break
                time.sleep(TRUTH_POLL)
            else:
                return begun
        raise TimeoutError(f"{text!r} was not submitted after 3 x Enter")

    def turn(self, prompt: str, tool: bool) -> None:
        begun = self.submit(prompt)
        at, _ = self.requests_after(begun)[0]
        self.truth(S.WORKING, at, "model request arrived")
        timeout = self.recipe.turn_timeout
        if tool:
            request = self.endpoint.wait_for(lambda r: r.reply_kind == "tool" and r.at - self.clock >= begun, timeout)
            shown = self.watch.wait(
                lambda s, _, __: s is S.WAITING_PERMISSION, request.at - self.clock, timeout, "dialog"
            )
            self.truth(S.WAITING_PERMISSION, shown, "tool call streamed + dialog on screen")
            time.sleep(1.0)  # TUIs ignore keys for a moment after a dialog appears
            for _ in range(5):
                pressed = time.monotonic()
                self.send(self.recipe.approve)
                time.sleep(1.0)
                if (gone := self.watch.first(lambda s, _, __: s is not S.WAITING_PERMISSION, pressed)) is not None:
                    break
            if gone is None:
                raise TimeoutError("the dialog stayed up after 5 approvals")
            self.truth(S.WORKING, gone, "dialog gone after approval")
            final = self.endpoint.wait_for(
                lambda r: r.reply_kind == "after_tool" and r.at - self.clock >= begun, timeout
            )
            answer, stream = "FAKE_TOOL_DONE", 0.0
        else:
            final = self.endpoint.wait_for(lambda r: r.reply_kind == "text" and r.at - self.clock >= begun, timeout)
            answer, stream = "FAKE_OK", SLOW_SECONDS if final.streamed else 0.0  # unstreamed: sent at once
        # the endpoint records arrival only: the stream ends SLOW_SECONDS later for the slow prompt (it sleeps
        # before each piece), at once otherwise; the answer must be on screen too
        ended = final.at - self.clock + stream
        idle = self.watch.wait(lambda _, screen, __: answer in screen, ended, timeout, f"{answer} on screen")
        self.truth(S.IDLE, idle, "stream ended + answer on screen")
        self.watch.wait(lambda s, _, __: s is S.IDLE, idle, timeout, "input ready")
        time.sleep(SETTLE)
        self.run.turn_ends.append(time.monotonic())


# -- the daemon ----------------------------------------------------------------------------------------------------


class Timeline(NullPublisher):
    """The daemon's publisher in place of the server link: keeps every timeline event (from the daemon's loop)."""

    def __init__(self) -> None:
        self.events: list[TimelineEvent] = []

    def timeline(self, event: TimelineEvent) -> None:
        self.events.append(event)


def _source(data: Any) -> str:
    """The winning reading's source and detector, e.g. ``structured:codex-events`` (the reason starts with it)."""
    detector = str(data.get("reason", "")).split(":", 1)[0].strip()
    return f"{data.get('source', 'none')}:{detector}" if detector else str(data.get("source", "none"))


def run_daemon(recipe: Recipe, turns: int, endpoint: FakeModelEndpoint, root: Path) -> Run:
    """One CLI as a session of the real daemon (its channels on), driven by the script; the daemon's states."""
    from imcodes_core.daemon.config import DaemonConfig
    from imcodes_core.daemon.lifecycle import Daemon
    from imcodes_core.host import make_plugin_host
    from imcodes_core.protocol.frames import SessionStart, SessionStop, TerminalInput

    command, version = installed_cli(recipe.cli)
    run = Run(recipe.cli, channel=f"{version} via the daemon: {recipe.channels} + screen")
    world = make_world(root, endpoint)
    extra_env = recipe.prepare(world, endpoint)
    sock = f"imcodes-bench-{os.getpid()}-{recipe.cli}"
    saved = dict(os.environ)
    os.environ.update(world.env)  # the daemon's tmux server starts with this environment
    os.environ.update(extra_env)  # the plugins read their IMCODES_* settings when the host is made
    os.environ.update({f"IMCODES_{recipe.cli.upper()}_BINARY": str(command), "IMCODES_TMUX_SOCKET": sock})
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="daemon-loop", daemon=True).start()

    def call(coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    async def create() -> Any:
        return Daemon(DaemonConfig.create(root / "d"), make_plugin_host())

    daemon = call(create())
    timeline = Timeline()
    daemon.registry.publisher = timeline
    served = asyncio.run_coroutine_threadsafe(daemon.serve(install_signals=False), loop)
    watch: TruthWatch | None = None
    try:
        call(asyncio.wait_for(daemon.started.wait(), 10))
        frame = SessionStart(id="b1", driver=recipe.cli, cwd=str(world.project))
        started = json.loads(call(daemon.commands.handle(frame), timeout=recipe.ready_timeout) or "{}")
        if not started.get("ok"):
            raise RuntimeError(f"session.start failed: {started.get('error')}")
        name = started["result"]["session"]["name"]
        followed = [sink.channel for sink in daemon.registry.followers.sinks.get(name, [])]
        run.channel += f"; session channels followed: {', '.join(followed) or 'none'}"

        def capture() -> tuple[str, bool]:
            shown = subprocess.run(
                ["tmux", "-L", sock, "capture-pane", "-p", "-t", f"={name}:"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            return shown.stdout, shown.returncode != 0  # the daemon closes a pane whose process ended

        def send(data: str) -> None:
            call(daemon.commands.handle(TerminalInput(id=None, session=name, data=data)))

        watch = TruthWatch(capture, recipe.markers).start()
        Script(run, recipe, watch, endpoint, send).play(turns)
        call(daemon.commands.handle(SessionStop(id="b2", session=name)))
    except (TimeoutError, RuntimeError, KeyError) as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        if watch is not None and watch.samples:  # what the pane showed when the script gave up
            shown = [line for line in watch.samples[-1][2].splitlines() if line.strip()][-12:]
            run.error += "\n      | " + "\n      | ".join(shown)
    finally:
        if watch is not None:
            watch.stop()
        loop.call_soon_threadsafe(daemon.request_stop)  # the loop runs in its own thread: wake it
        try:
            served.result(15)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            os.environ.clear()
            os.environ.update(saved)
            stop_home(world.home)
            subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, timeout=10, check=False)
    clock = time.time() - time.monotonic()
    run.detected = [
        (S(str(e.data["state"])), e.at - clock, _source(e.data)) for e in timeline.events if e.kind == "state.changed"
    ]
    return run
