"""Scripted turns through the REAL agent CLIs, with ground truth kept apart from the detectors being measured.

Each CLI runs as ``tests/agents`` runs it (the harness and the tests' own setup recipes are loaded from their
files, nothing is copied but the world fixture): Claude through the daemon (its hooks, and its session status file
followed as the daemon follows every driver's session channels), the others through the harness's detector loop
(every detector the plugin host has, plus OpenCode's event stream).

The script never waits on the detectors: it drives each turn by the ground truth (the fake endpoint's requests and
the tests' screen markers read every 50 ms by :class:`TruthWatch`), so a detector that misses cannot stall it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from imcodes_core.states import SessionState as S
from imcodes_core.testing.model_endpoint import FakeModelEndpoint

AGENT_TESTS = Path(__file__).resolve().parent.parent / "tests" / "agents"
TRUTH_POLL = 0.05
SETTLE = 1.0  # after a turn's truth idle, before the next prompt: time for a detector to get there too
MODEL_KINDS = ("text", "tool", "after_tool", "json")  # a request that makes the model work (not count/list)
TEXT_PROMPT, TOOL_PROMPT = "Say hello SLOWLY please", "Please RUNTOOL now"
SLOW_SECONDS = 2.0  # as the tests' world: the slow answer streams over this long


def load(name: str) -> ModuleType:
    """A module of tests/agents by its file (with --import-mode=importlib that folder is no package)."""
    key = f"imcodes_agent_bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, AGENT_TESTS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        sys.modules[key] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[key]


@dataclass
class Run:
    """One CLI's run: ground-truth transitions and detected changes, all in time.monotonic() seconds."""

    cli: str
    channel: str = ""
    truth: list[tuple[S, float, str]] = field(default_factory=list)  # state, time, what proved it
    detected: list[tuple[S, float, str]] = field(default_factory=list)  # state, time, source
    turn_ends: list[float] = field(default_factory=list)  # when each turn was over (the state must be idle)
    skipped: str = ""
    error: str = ""


class TruthWatch:
    """Reads the pane every 50 ms: the tests' marker verdict, the screen, whether the pane is dead."""

    def __init__(self, capture: Callable[[], tuple[str, bool]], markers: Sequence[tuple[S, str]]) -> None:
        self.capture = capture
        self.detector = load("support").MarkerDetector("truth", markers)
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
        from imcodes_core.states import Observation

        while not self._stop.is_set():
            try:
                screen, dead = self.capture()
            except (RuntimeError, subprocess.TimeoutExpired):
                screen, dead = "", True
            reading = self.detector.read(Observation("truth", screen, (), dead, None, time.time()))
            self.samples.append((time.monotonic(), reading.state if reading else None, screen, dead))
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


@dataclass
class Recipe:
    """How the tests run one CLI: its markers, home setup, arguments, approval keys and exit line."""

    cli: str
    module: str
    prepare: Callable[[Any, FakeModelEndpoint], list[str]]  # writes the home; returns extra arguments
    approve: str = "\r"  # raw terminal input; "" = no tool turns (the fake cannot call this CLI's tool)
    exit_line: str = "/quit"
    args_without_driver: tuple[str, ...] = ()
    ready_timeout: float = 40.0
    turn_timeout: float = 40.0


def _codex(world: Any, endpoint: FakeModelEndpoint) -> list[str]:
    load("test_codex").prepare_home(world, endpoint.url)
    return ["--no-daemon"]


def _gemini(world: Any, endpoint: FakeModelEndpoint) -> list[str]:
    settings, trusted = load("test_gemini").settings_files(str(world.project))
    (world.home / ".gemini").mkdir()
    (world.home / ".gemini" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    (world.home / ".gemini" / "trustedFolders.json").write_text(json.dumps(trusted), encoding="utf-8")
    return []


def _qwen(world: Any, endpoint: FakeModelEndpoint) -> list[str]:
    os.environ["IMCODES_QWEN_BASE_URL"] = f"{endpoint.url}/v1"  # read when the plugin host is made
    os.environ["IMCODES_QWEN_MODEL"] = endpoint.models[0]
    return []


def _opencode(world: Any, endpoint: FakeModelEndpoint) -> list[str]:
    folder = world.home / ".config" / "opencode"
    folder.mkdir(parents=True)
    config = load("test_opencode").offline_config(f"{endpoint.url}/v1")
    (folder / "opencode.json").write_text(json.dumps(config), encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return ["--port", str(probe.getsockname()[1])]


def _openclaw(world: Any, endpoint: FakeModelEndpoint) -> list[str]:
    (world.home / ".openclaw").mkdir()
    settings = load("test_openclaw").config(world, f"{endpoint.url}/v1", world.env["OPENAI_API_KEY"])
    (world.home / ".openclaw" / "openclaw.json").write_text(json.dumps(settings), encoding="utf-8")
    return []


def _claude(world: Any, endpoint: FakeModelEndpoint) -> list[str]:
    load("test_claude_hooks").prepare_home(world, world.env["ANTHROPIC_API_KEY"])
    return []


RECIPES = {
    "claude": Recipe("claude", "test_claude", _claude, exit_line="/exit"),
    "codex": Recipe("codex", "test_codex", _codex, approve="y"),
    "gemini": Recipe("gemini", "test_gemini", _gemini),
    "qwen": Recipe(
        "qwen", "test_qwen", _qwen, args_without_driver=("--auth-type", "openai", "--approval-mode", "default")
    ),
    "opencode": Recipe("opencode", "test_opencode", _opencode, exit_line="/exit"),
    "openclaw": Recipe(
        "openclaw", "test_openclaw", _openclaw, approve="", exit_line="/exit", args_without_driver=("chat",)
    ),
}


def make_world(root: Path, endpoint: FakeModelEndpoint) -> Any:
    """The ``agent_world`` fixture's world (a fixture cannot be called outside pytest): same folders and env."""
    conftest = load("conftest")
    home, project = root / "home", root / "project"
    for folder in (home, project, home / ".config", home / ".cache", home / ".local/share", root / "tmp"):
        folder.mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(home),
        "PATH": f"{conftest.support.agent_cli_dir() / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "TMPDIR": str(root / "tmp"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "IMCODES_SESSION": "agent-cli-test",
        "NO_UPDATE_NOTIFIER": "1",
        **endpoint.agent_env(),
    }
    return conftest.AgentWorld(home, project, env)


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
            self.send("\r")
            if not expect_request:
                return begun
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                if self.requests_after(begun):
                    return begun
                time.sleep(TRUTH_POLL)
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


# -- the two ways to run a CLI -----------------------------------------------------------------------------------


def run_harness(recipe: Recipe, turns: int, endpoint: FakeModelEndpoint, root: Path) -> Run:
    """Through tests/agents' AgentPane: every detector of the plugin host, OpenCode's event stream followed."""
    from imcodes_core.drivers import LaunchRequest
    from imcodes_core.host import make_plugin_host

    conftest, markers = load("conftest"), load(recipe.module).MARKERS
    run = Run(recipe.cli)
    world = make_world(root, endpoint)
    extra = recipe.prepare(world, endpoint)
    host = make_plugin_host()
    detectors, from_plugin = conftest.support.detectors_for(host, recipe.cli, markers)
    try:
        plan = host.agent_driver(recipe.cli).driver.launch_plan(
            LaunchRequest("agent-cli-test", world.project, extra_args=extra, env=world.env)
        )
        argv, env = list(plan.argv), {**world.env, **plan.env}
    except KeyError:
        command, _ = conftest.support.installed_cli(recipe.cli)
        argv, env = [str(command), *recipe.args_without_driver, *extra], world.env
    names = ", ".join(getattr(d, "name", "?") for d in detectors)
    run.channel = f"harness, detectors: {names}" + ("" if from_plugin else " (test markers)")
    tmux, sock = shutil.which("tmux") or "tmux", f"imcodes-bench-{os.getpid()}-{recipe.cli}"
    pane = conftest.AgentPane(tmux, sock, recipe.cli, detectors, from_plugin=from_plugin, home=world.home)
    watch = TruthWatch(lambda: (pane.screen(), pane.pane_status()[0]), markers)
    try:
        pane.start(argv, env, world.project)
        watch.start()
        if "--port" in extra:
            from imcodes_opencode.events import sse_event

            pane.follow_sse(int(extra[extra.index("--port") + 1]), "/event", sse_event)
            run.channel += " + SSE /event"
        Script(
            run, recipe, watch, endpoint, lambda data: pane.run_tmux("send-keys", "-t", pane.target, "-l", data)
        ).play(turns)
    except (TimeoutError, RuntimeError) as exc:
        run.error = str(exc)
    finally:
        watch.stop()
        pane.stop()
        subprocess.run([tmux, "-L", sock, "kill-server"], capture_output=True, timeout=10, check=False)
        conftest.support.stop_processes_with_home(world.home)
        with pane._changed:
            run.detected = [(seen.state, pane.started_at + seen.at, _source(seen.source)) for seen in pane.trail]
    return run


def _source(source: Any) -> str:
    return source.name.lower() if source is not None else "none"


def run_daemon(recipe: Recipe, turns: int, endpoint: FakeModelEndpoint, root: Path) -> Run:
    """Through the daemon, as tests/agents/test_claude_hooks.py runs Claude: its hooks report on the event socket, and
    the daemon follows the session channels the driver names (Claude's status file) as it always does."""
    from imcodes_core.daemon.config import DaemonConfig
    from imcodes_core.daemon.lifecycle import Daemon
    from imcodes_core.host import make_plugin_host
    from imcodes_core.protocol.frames import SessionStart, SessionStop, TerminalInput

    conftest, hooks_test = load("conftest"), load("test_claude_hooks")
    command, _ = conftest.support.installed_cli(recipe.cli)
    run = Run(recipe.cli, channel="daemon (hooks event socket + screen)")
    world = make_world(root, endpoint)
    recipe.prepare(world, endpoint)
    sock = f"imcodes-bench-{os.getpid()}-daemon"
    saved = dict(os.environ)
    os.environ.update(world.env)  # the daemon's tmux server starts with this environment
    os.environ.update(IMCODES_CLAUDE_BINARY=str(command), IMCODES_TMUX_SOCKET=sock)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="daemon-loop", daemon=True).start()

    def call(coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    async def create() -> Any:
        return Daemon(DaemonConfig.create(root / "d"), make_plugin_host())

    daemon = call(create())
    timeline = hooks_test.Timeline()
    daemon.registry.publisher = timeline
    served = asyncio.run_coroutine_threadsafe(daemon.serve(install_signals=False), loop)
    watch: TruthWatch | None = None
    try:
        call(asyncio.wait_for(daemon.started.wait(), 10))
        started = json.loads(
            call(daemon.commands.handle(SessionStart(id="b1", driver=recipe.cli, cwd=str(world.project)))) or "{}"
        )
        name = started["result"]["session"]["name"]
        followed = [sink.channel for sink in daemon.registry.followers.sinks.get(name, [])]
        run.channel += f", session channels followed: {', '.join(followed) or 'none'}"

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

        watch = TruthWatch(capture, load(recipe.module).MARKERS).start()
        Script(run, recipe, watch, endpoint, send).play(turns)
        call(daemon.commands.handle(SessionStop(id="b2", session=name)))
    except (TimeoutError, RuntimeError, KeyError) as exc:
        run.error = f"{type(exc).__name__}: {exc}"
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
            conftest.support.stop_processes_with_home(world.home)
    clock = time.time() - time.monotonic()
    run.detected = [
        (S(str(e.data["state"])), e.at - clock, str(e.data.get("source", "none")))
        for e in timeline.of("state.changed")
    ]
    return run
