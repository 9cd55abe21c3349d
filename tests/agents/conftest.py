"""Harness for the real-CLI tests: a real agent CLI in tmux, offline, watched the way the daemon watches it.

- The CLIs come from ``scripts/install-agent-clis.sh`` (folder ``$IMCODES_AGENT_CLI_DIR``, default
  ``~/.cache/imcodes/agent-clis``); a test whose CLI is not there is skipped with the reason.
- ``agent_pane`` starts a command in a 120x40 pane on the test's private tmux socket. The tmux server is started
  with a clean environment (HOME in tmp_path, PATH with node 24 and the CLIs first, the fake endpoint's variables),
  so nothing of the developer's own configuration or keys reaches the CLI.
- A poller reads the pane every 100 ms (``capture-pane`` plus ``#{pane_dead}``) into an :class:`Observation`, runs
  every state detector the plugin host has for that driver and keeps each change of the arbitrated verdict: the
  trail the tests assert on. When no plugin has a detector for the driver yet, the test module's screen markers
  stand in for it.
- Teardown kills the tmux server and then any process still running with the test's HOME (agents spawn helpers
  that leave the pane's session, like Codex's app-server daemon).
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from imcodes_core.drivers import LaunchRequest
from imcodes_core.host import make_plugin_host
from imcodes_core.states import (
    AgentEvent,
    Observation,
    SessionArbiter,
    SessionState,
    SignalSource,
    StateDetector,
    StateVerdict,
)

POLL_SECONDS = 0.1
SSE_ANSWER_TIMEOUT = 3.0  # for the response headers of the event stream
SSE_READ_TIMEOUT = 120.0  # between two events: longer than any test
RECENT_EVENTS = 50  # what the detectors see of a machine channel, newest last
SETTLE_SECONDS = 0.3  # between the typed text's paint and Enter: some TUIs take a fast Enter for part of a paste
WIDTH, HEIGHT = 120, 40
TOOL_FILE = "fake_tool_output.txt"  # what the fake model's tool call writes in the project folder


def _load_support() -> ModuleType:
    """``support.py`` beside this file (with --import-mode=importlib this folder is no package to import from)."""
    spec = importlib.util.spec_from_file_location(
        "imcodes_agent_cli_test_support", Path(__file__).with_name("support.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


support = _load_support()


@dataclass(frozen=True, slots=True)
class Seen:
    """One change of the arbitrated state, with the screen that caused it (for failure messages)."""

    state: SessionState
    at: float
    reason: str
    screen: str
    source: SignalSource | None = None  # of the winning reading: structured events outrank the screen


@dataclass
class AgentPane:
    """A real CLI in a tmux pane on a private socket, watched by a 100 ms poller."""

    tmux: str
    socket: str
    driver: str
    detectors: list[StateDetector]
    target: str = "agent"
    from_plugin: bool = False  # whether a plugin's own detector reads this pane (else the test's markers)
    version: str = ""
    home: Path | None = None  # the agent's HOME: finds its processes for failure messages
    launched: list[str] = field(default_factory=list)  # the command line (from the plugin's driver when present)
    trail: list[Seen] = field(default_factory=list)
    started_at: float = 0.0
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _stop: threading.Event = field(default_factory=threading.Event)
    _poller: threading.Thread | None = None
    events: list[AgentEvent] = field(default_factory=list)  # from a machine channel, when the test follows one
    turn_timeout: float = 20.0
    arbiter: SessionArbiter = field(default_factory=SessionArbiter)  # as the daemon's: dates screen readings

    def run_tmux(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        done = subprocess.run(
            [self.tmux, "-L", self.socket, *args], capture_output=True, text=True, timeout=10, env=env, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
        # The server takes its environment from this first client: only `env` reaches the agent.
        self.run_tmux(
            "-f", "/dev/null", "start-server", ";",
            "set", "-g", "remain-on-exit", "on", ";",  # a dead pane stays to report #{pane_dead_status}
            "set", "-g", "focus-events", "on", ";",  # Claude's screens stay clean with focus events
            "new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", self.target, "-c", str(cwd),
            "--", *argv,
            env=env,
        )  # fmt: skip
        self.started_at = time.monotonic()
        self._poller = threading.Thread(target=self._poll, name=f"poll-{self.driver}", daemon=True)
        self._poller.start()

    # -- reading ------------------------------------------------------------------------------------------------

    def screen(self) -> str:
        return self.run_tmux("capture-pane", "-p", "-t", self.target)

    def pane_status(self) -> tuple[bool, int | None, int | None]:
        """Whether the pane is dead, its exit status and the signal that ended it (tmux knows one or the other)."""
        fields = self.run_tmux(
            "display", "-p", "-t", self.target, "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}"
        ).strip()
        dead, status, killed_by = [*fields.split("|"), "", ""][:3]
        return dead == "1", int(status) if status else None, int(killed_by) if killed_by else None

    def exit_status(self, timeout: float = 10.0) -> tuple[int | None, int | None]:
        """(status, signal) once the pane's process has ended.

        tmux 3.3a sometimes closes a pane (``#{pane_dead}`` 1) and leaves its process a zombie for many seconds
        without reaping it, so ``#{pane_dead_status}`` stays empty (tmux/tmux#4841 is the short form of that race):
        the zombie's own exit code in /proc is the same fact.
        """
        deadline = time.monotonic() + timeout
        while True:
            dead, status, killed_by = self.pane_status()
            if dead and (status is not None or killed_by is not None):
                return status, killed_by
            if dead and (
                zombie := support.zombie_exit(int(self.run_tmux("display", "-p", "-t", self.target, "#{pane_pid}")))
            ):
                return zombie
            if time.monotonic() > deadline:
                pytest.fail(f"{self.driver}'s pane is not dead {timeout} s after it exited\n{self.describe()}")
            time.sleep(POLL_SECONDS)

    def verdict(self) -> tuple[StateVerdict, str]:
        screen = self.screen()
        dead, status, _ = self.pane_status()
        with self._changed:
            recent = tuple(self.events[-RECENT_EVENTS:])
        now = time.time()
        observation = Observation(self.driver, screen, recent, dead, status, now)
        return self.arbiter.arbitrate((d.read(observation) for d in self.detectors), now), screen

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                verdict, screen = self.verdict()
            except (RuntimeError, subprocess.TimeoutExpired):
                if self._stop.is_set():
                    return
                raise
            with self._changed:
                if not self.trail or self.trail[-1].state != verdict.state:
                    source = verdict.readings[0].source if verdict.readings else None
                    at = time.monotonic() - self.started_at
                    self.trail.append(Seen(verdict.state, at, verdict.reason, screen, source))
                    self._changed.notify_all()
            self._stop.wait(POLL_SECONDS)

    @property
    def state(self) -> SessionState | None:
        with self._changed:
            return self.trail[-1].state if self.trail else None

    def states(self) -> list[SessionState]:
        with self._changed:
            return [seen.state for seen in self.trail]

    def wait_for(self, *states: SessionState, timeout: float = 20.0) -> Seen:
        """Wait (bounded) until the current state is one of ``states``; fail with the trail and screen if not."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if self.trail and self.trail[-1].state in states:
                    return self.trail[-1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(min(remaining, POLL_SECONDS))
        pytest.fail(f"{self.driver} never reached {'/'.join(states)} within {timeout} s\n{self.describe()}")

    def describe(self) -> str:
        with self._changed:
            trail = "\n".join(f"  {s.at:6.2f}s {s.state}: {s.reason}" for s in self.trail)
        try:
            screen = self.screen()
        except RuntimeError as exc:
            screen = f"(no screen: {exc})"
        processes = ""
        with contextlib.suppress(RuntimeError, ValueError):
            pid = int(self.run_tmux("display", "-p", "-t", self.target, "#{pane_pid}").strip())
            processes = f"  pane process {pid}: {support.describe_process(pid)}\n"
        if self.home is not None:
            processes += "\n".join(
                f"  {pid}: {support.describe_process(pid)}" for pid in support.processes_with_home(self.home)
            )
        return f"trail:\n{trail}\nscreen now:\n{screen}\nprocesses with the agent's HOME:\n{processes}"

    # -- input --------------------------------------------------------------------------------------------------

    def type_line(
        self,
        text: str,
        *,
        expect: Sequence[SessionState] = (SessionState.WORKING, SessionState.WAITING_PERMISSION),
        attempts: int = 3,
        timeout: float = 5.0,
    ) -> None:
        """Type ``text``, wait (bounded) until it is painted, press Enter; verified like a driver must.

        Submission is proven by the state reaching one of ``expect`` within 2 s of Enter; otherwise Enter is
        pressed again (a TUI that just finished a turn may swallow the first one; Enter on an empty input box is a
        no-op, so a late success is never submitted twice).
        """
        self.run_tmux("send-keys", "-t", self.target, "-l", text)
        deadline = time.monotonic() + timeout
        while text not in self.screen():
            if time.monotonic() > deadline:
                pytest.fail(f"{self.driver} never showed the typed text {text!r}\n{self.describe()}")
            time.sleep(POLL_SECONDS)
        time.sleep(SETTLE_SECONDS)
        seen = len(self.trail) - 1  # the current state counts: some detectors call typing "working" already
        for _ in range(attempts):
            self.keys("Enter")
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                with self._changed:
                    if any(s.state in expect for s in self.trail[seen:]):
                        return
                time.sleep(POLL_SECONDS)
        pytest.fail(f"{self.driver} did not take {text!r} after {attempts} x Enter\n{self.describe()}")

    def answer(self, keys: Sequence[str], *, attempts: int = 5, settle: float = 1.0) -> None:
        """Answer the permission prompt, verified: resend when the prompt is still up after ``settle`` seconds.

        TUIs ignore keys for a moment after a dialog appears (so a stray Enter cannot approve by accident).
        """
        for _ in range(attempts):
            self.keys(*keys)
            deadline = time.monotonic() + settle
            while time.monotonic() < deadline:
                if self.state is not SessionState.WAITING_PERMISSION:
                    return
                time.sleep(POLL_SECONDS)
        pytest.fail(f"{self.driver} kept asking after {attempts} answers {list(keys)}\n{self.describe()}")

    def keys(self, *keys: str) -> None:
        self.run_tmux("send-keys", "-t", self.target, *keys)

    def standard_session(
        self,
        world: AgentWorld,
        *,
        approve: Sequence[str] = (),
        exit_line: str | None = None,
        exit_keys: Sequence[str] = (),
        ready_timeout: float = 30.0,
        turn_timeout: float = 20.0,
    ) -> list[SessionState]:
        """The scenario every CLI goes through; returns the trail of states (consecutive repeats merged).

        start -> idle; a slow text prompt -> working -> idle; a prompt whose answer is a tool call -> waiting for
        permission -> ``approve`` keys -> working (the tool sleeps 1 s) -> idle; ``exit_line`` or ``exit_keys`` ->
        exited with status 0. Without ``approve`` keys the tool turn is left out. ``turn_timeout`` bounds each
        wait within a turn (a loaded 2-core machine slows the heavier CLIs down several times).
        """
        self.turn_timeout = turn_timeout
        S = SessionState  # noqa: N806 (reads like the enum it is)
        first = self.wait_for(S.IDLE, timeout=ready_timeout)
        assert self.trail[0].state in (S.STARTING, S.SETUP), self.describe()
        assert first.state is S.IDLE

        self.type_line("Say hello SLOWLY please")
        self.wait_for(S.WORKING, timeout=10)
        self.wait_for_answer("FAKE_OK", self.turn_timeout)
        if approve:
            self.tool_turn(world, approve)

        if exit_line is not None:
            self.type_line(exit_line, expect=(S.EXITED,))
        if exit_keys:
            self.keys(*exit_keys)
        self.wait_for(S.EXITED, timeout=15)
        assert self.exit_status() == (0, None), self.describe()
        states = self.states()
        assert S.ERROR not in states, self.describe()
        return states

    def tool_turn(self, world: AgentWorld, approve: Sequence[str]) -> None:
        """The fake model calls the CLI's shell tool: waiting for permission, approved, working, idle."""
        S = SessionState  # noqa: N806 (reads like the enum it is)
        self.type_line("Please RUNTOOL now")
        self.wait_for(S.WAITING_PERMISSION, timeout=self.turn_timeout)
        assert not world.tool_output.exists(), "the tool ran before it was approved"
        self.answer(approve)
        self.wait_for(S.WORKING, timeout=10)
        self.wait_for_answer("FAKE_TOOL_DONE", self.turn_timeout)
        assert world.tool_output.exists(), f"the approved tool did not run\n{self.describe()}"

    def wait_for_answer(self, text: str, timeout: float = 20.0) -> None:
        """Wait for idle, which must not come before the answer ``text`` is complete.

        An idle read from the screen must come with the answer on that very screen. An idle the CLI reported
        through a machine channel is its own word; the screen may paint the answer a moment later.
        """
        idle = self.wait_for(SessionState.IDLE, timeout=timeout)
        if idle.source is not None and idle.source >= SignalSource.STRUCTURED:
            deadline = time.monotonic() + 3
            while text not in self.screen():
                assert time.monotonic() < deadline, f"idle, but the answer never showed\n{self.describe()}"
                time.sleep(POLL_SECONDS)
            return
        assert text in idle.screen, f"idle before the answer was complete:\n{idle.screen}\n{self.describe()}"

    def follow_sse(self, port: int, path: str, to_event: Callable[[Mapping[str, Any], float], AgentEvent]) -> None:
        """Read the CLI's server-sent events at ``http://127.0.0.1:{port}{path}`` into :attr:`events` until the
        CLI ends (the daemon's job in production).

        Refused connections are retried while the CLI starts its server, and so is a request left unanswered for
        a few seconds (OpenCode accepts connections before it answers them). Once the stream flows it is read on
        one long-lived connection: every reconnect adds a listener inside OpenCode, and at 11 it prints a
        MaxListenersExceededWarning over its own TUI.
        """

        def follow() -> None:
            while not self._stop.is_set():
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=SSE_ANSWER_TIMEOUT)
                try:
                    connection.request("GET", path, headers={"Accept": "text/event-stream"})
                    stream = connection.getresponse()
                    if stream.status != 200:
                        raise ValueError(f"HTTP {stream.status}")
                    assert connection.sock is not None
                    connection.sock.settimeout(SSE_READ_TIMEOUT)  # a quiet stream is no reason to reconnect
                    while line := stream.readline():
                        text = line.decode("utf-8", errors="replace").strip()
                        if text.startswith("data:"):
                            event = to_event(json.loads(text[5:]), time.time())
                            with self._changed:
                                self.events.append(event)
                    return  # the stream ended: so did the CLI
                except (OSError, ValueError, http.client.HTTPException):
                    self._stop.wait(POLL_SECONDS * 5)
                finally:
                    connection.close()

        threading.Thread(target=follow, name=f"sse-{self.driver}", daemon=True).start()

    def assert_in_order(self, expected: Sequence[SessionState]) -> None:
        """``expected`` appears in the trail in this order (other states may come between, as real TUIs redraw)."""
        states = iter(self.states())
        missing = [state for state in expected if not any(seen == state for seen in states)]
        assert not missing, f"expected {[str(s) for s in expected]} in order, {missing[0]} missing\n{self.describe()}"

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)


@dataclass(frozen=True, slots=True)
class AgentWorld:
    """Where one CLI runs: its HOME, its project folder, the environment the tmux server starts with."""

    home: Path
    project: Path
    env: dict[str, str]

    @property
    def tool_output(self) -> Path:
        """The file the fake model's tool call writes once the CLI runs it (after the approval)."""
        return self.project / TOOL_FILE


@pytest.fixture
def agent_world(tmp_path: Path, fake_model_endpoint: object) -> AgentWorld:
    from imcodes_core.testing.model_endpoint import FakeModelEndpoint

    assert isinstance(fake_model_endpoint, FakeModelEndpoint)
    # The tool call creates a file, so every CLI asks before running it (read-only commands may be auto-allowed),
    # and sleeps a second, so the working state after the approval lasts long enough to be seen. No redirection:
    # Codex's rules judge a script with one as a whole and would not match the "sleep" prefix rule.
    fake_model_endpoint.behaviour = replace(
        fake_model_endpoint.behaviour, tool_command=f"sleep 1 && touch {TOOL_FILE}", slow_seconds=2.0
    )
    home = tmp_path / "home"
    project = tmp_path / "project"
    for folder in (home, project, home / ".config", home / ".cache", home / ".local/share", tmp_path / "tmp"):
        folder.mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(home),
        "PATH": f"{support.agent_cli_dir() / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp_path / "tmp"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "IMCODES_SESSION": "agent-cli-test",
        "NO_UPDATE_NOTIFIER": "1",
        **fake_model_endpoint.agent_env(),
    }
    return AgentWorld(home, project, env)


@pytest.fixture
def agent_pane(tmux_socket: str, agent_world: AgentWorld) -> Iterator[Callable[..., AgentPane]]:
    """``agent_pane(cli, markers, extra_args=..., args_without_driver=...)``: start the installed CLI.

    The command line is the plugin driver's launch plan (plus ``extra_args``) when a plugin registers a driver of
    that name, else the installed command with ``args_without_driver`` and ``extra_args``. It runs in the world's
    project folder. Skips when the CLI is not installed; everything it started is stopped at teardown.
    """
    tmux = shutil.which("tmux")
    assert tmux is not None  # the tmux_socket fixture skips without tmux
    panes: list[AgentPane] = []

    def start(
        driver: str,
        markers: Sequence[tuple[SessionState, str]],
        *,
        extra_args: Sequence[str] = (),
        args_without_driver: Sequence[str] = (),
    ) -> AgentPane:
        command, version = support.installed_cli(driver)
        host = make_plugin_host()
        detectors, from_plugin = support.detectors_for(host, driver, markers)
        try:
            spec = host.agent_driver(driver)
        except KeyError:  # no plugin yet: the command line the fixtures README gives
            argv, env = [str(command), *args_without_driver, *extra_args], agent_world.env
        else:  # the plugin's own launch plan, so the test covers the driver too
            request = LaunchRequest("agent-cli-test", agent_world.project, extra_args=extra_args, env=agent_world.env)
            plan = spec.driver.launch_plan(request)
            argv, env = list(plan.argv), {**agent_world.env, **plan.env}
        pane = AgentPane(
            tmux, tmux_socket, driver, detectors, from_plugin=from_plugin, version=version, home=agent_world.home
        )
        pane.launched = argv
        panes.append(pane)
        pane.start(argv, env, agent_world.project)
        return pane

    yield start
    for pane in panes:
        pane.stop()
    subprocess.run([tmux, "-L", tmux_socket, "kill-server"], capture_output=True, timeout=10, check=False)
    support.stop_processes_with_home(agent_world.home)  # tmux sent SIGHUP: what is still there now gets SIGKILL
