"""Contract tests every plugin runs by subclassing: pytest collects the inherited tests in the subclass.

::

    from imcodes_core.testing.contracts import AgentDriverContract

    class TestToyDriver(AgentDriverContract):
        @pytest.fixture
        def driver(self):
            return ToyDriver()

The base classes are not named ``Test...``, so pytest never collects them on their own. Each test checks one
promise the daemon relies on and fails with a message saying which.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from imcodes_core.discussions import DiscussionMode, Finished
from imcodes_core.drivers import AgentDriver, DriverKind, InputDelivery, LaunchPlan, LaunchRequest
from imcodes_core.notifications import Notification, NotificationKind, Notifier
from imcodes_core.specs import normalise_name
from imcodes_core.states import AgentEvent, Observation, SessionState, StateDetector, StateReading
from imcodes_core.testing.runner import DiscussionRun, DiscussionRunError, run_discussion

__all__ = [
    "AgentDriverContract",
    "DiscussionModeContract",
    "DiscussionRun",
    "DiscussionRunError",
    "NotifierContract",
    "StateDetectorContract",
    "odd_observations",
    "run_discussion",
]


def _assert_valid_name(name: object, what: str) -> None:
    assert isinstance(name, str), f"{what}.name must be a str, got {type(name).__name__}"
    try:
        normalise_name(name)
    except ValueError as exc:
        pytest.fail(f"{what}.name is not a valid plugin name: {exc}")


class AgentDriverContract:
    """Provide a ``driver`` fixture. Checks what the daemon needs to launch the agent in a pane."""

    def plan(self, driver: AgentDriver, cwd: Path, **request: Any) -> LaunchPlan:
        plan = driver.launch_plan(LaunchRequest(session=request.pop("session", "s1"), cwd=cwd, **request))
        assert isinstance(plan, LaunchPlan), f"launch_plan returned {type(plan).__name__}, expected LaunchPlan"
        return plan

    def test_is_an_agent_driver(self, driver: AgentDriver) -> None:
        assert isinstance(driver, AgentDriver), "the driver lacks part of the AgentDriver protocol"
        _assert_valid_name(driver.name, "driver")

    def test_kind_and_input_delivery_are_the_enums(self, driver: AgentDriver) -> None:
        assert isinstance(driver.kind, DriverKind), f"kind must be a DriverKind, got {driver.kind!r}"
        assert isinstance(driver.input_delivery, InputDelivery), (
            f"input_delivery must be an InputDelivery, got {driver.input_delivery!r}"
        )
        assert driver.executable is None or (isinstance(driver.executable, str) and driver.executable.strip()), (
            "executable must be None or the command name imcodes doctor looks up"
        )

    def test_launch_plan_argv_is_non_empty_strings(self, driver: AgentDriver, tmp_path: Path) -> None:
        argv = list(self.plan(driver, tmp_path).argv)
        assert argv, "launch_plan gave an empty argv"
        assert all(isinstance(arg, str) for arg in argv), f"argv must hold only str: {argv!r}"
        assert argv[0].strip(), "argv[0] (the program) is empty"

    def test_launch_plan_exports_the_session(self, driver: AgentDriver, tmp_path: Path) -> None:
        for session in ("s1", "review-2"):
            env = self.plan(driver, tmp_path, session=session).env
            assert env.get("IMCODES_SESSION") == session, f"env must export IMCODES_SESSION={session!r}"

    def test_launch_plan_env_is_strings_and_keeps_the_request_env(self, driver: AgentDriver, tmp_path: Path) -> None:
        env = self.plan(driver, tmp_path, env={"IMCODES_CONTRACT_PROBE": "kept"}).env
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()), "env must map str to str"
        assert env.get("IMCODES_CONTRACT_PROBE") == "kept", "the env the daemon passes in must reach the agent"

    def test_launch_plan_honours_cwd(self, driver: AgentDriver, tmp_path: Path) -> None:
        project = tmp_path / "project"
        project.mkdir()
        plan = self.plan(driver, project)
        assert plan.cwd is not None, "launch_plan must say where to run (cwd is None)"
        assert Path(plan.cwd).resolve() == project.resolve(), f"cwd {plan.cwd} is not the requested {project}"

    def test_launch_plan_passes_extra_args(self, driver: AgentDriver, tmp_path: Path) -> None:
        argv = list(self.plan(driver, tmp_path, extra_args=("--imcodes-contract-probe",)).argv)
        assert "--imcodes-contract-probe" in argv[1:], f"extra_args must reach the command line: {argv!r}"

    def test_launch_plan_is_deterministic(self, driver: AgentDriver, tmp_path: Path) -> None:
        first, second = self.plan(driver, tmp_path), self.plan(driver, tmp_path)
        assert (list(first.argv), dict(first.env), first.cwd) == (list(second.argv), dict(second.env), second.cwd)

    def test_installed_version_never_raises(self, driver: AgentDriver, monkeypatch: pytest.MonkeyPatch) -> None:
        version = driver.installed_version()
        assert version is None or (isinstance(version, str) and version.strip()), f"bad version {version!r}"
        monkeypatch.setenv("PATH", "")  # nothing on PATH: must answer None or a str, not raise
        missing = driver.installed_version()
        assert missing is None or isinstance(missing, str), f"bad version with an empty PATH: {missing!r}"


def odd_observations(driver: str = "shell") -> list[Observation]:
    """Screens and events a detector must survive: empty, blank, binary junk, escapes, huge, odd events."""
    huge = "\n".join(f"line {n} " + "x" * 100 for n in range(10_000))  # ~1 MB
    return [
        Observation(driver),
        Observation(driver, screen=" \n\t\n   "),
        Observation(driver, screen="\x00\x01\x02\x7f\ufffd\udcff garbage \x1b[31m\x1b]0;t\x07"),
        Observation(driver, screen="❯ ⠋ ╭─╮ 日本語 🙂 \u200b\u0301"),
        Observation(driver, screen="y/n?" * 5000),
        Observation(driver, screen=huge),
        Observation(driver, screen="\n" * 50_000),
        Observation(driver, screen="x" * 1_000_000),
        Observation(driver, pane_dead=True, exit_status=0),
        Observation(driver, pane_dead=True, exit_status=137),
        Observation(driver, pane_dead=True, exit_status=None),
        Observation(driver, events=(AgentEvent("", 0.0), AgentEvent("Stop", -1.0, {"x": None})), now=1e12),
        Observation(driver, events=tuple(AgentEvent("Weird", float(n), {"n": n}) for n in range(5_000))),
    ]


def _random_screens(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not a secret
    alphabet = "abc XYZ 0123 $#>❯›?(y/n)\x1b[0m\r\n\t⠋…·│╭日🙂\x00\x7f"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400))) for _ in range(count)]


class StateDetectorContract:
    """Provide ``detector`` and ``golden_cases`` fixtures.

    ``golden_cases`` is a list of ``(Observation, expected)`` where ``expected`` is the :class:`SessionState` the
    detector must read, or None where it must abstain (return no reading).
    """

    huge_screen_seconds = 2.0  # the slowest a single read may be on a ~1 MB screen

    def check_reading(self, detector: StateDetector, reading: object) -> None:
        if reading is None:
            return
        assert isinstance(reading, StateReading), f"read returned {type(reading).__name__}, expected StateReading"
        assert 0.0 <= reading.confidence <= 1.0, f"confidence {reading.confidence} outside [0, 1]"
        assert isinstance(reading.evidence, str) and reading.evidence.strip(), "a reading needs evidence"
        assert reading.detector == detector.name, f"reading names {reading.detector!r}, not {detector.name!r}"
        assert isinstance(reading.state, SessionState), f"state must be a SessionState, got {reading.state!r}"

    def test_name_is_valid(self, detector: StateDetector) -> None:
        _assert_valid_name(detector.name, "detector")
        assert callable(getattr(detector, "read", None)), "a detector needs read(observation)"

    def test_golden_cases_read_as_expected(
        self, detector: StateDetector, golden_cases: Sequence[tuple[Observation, SessionState | None]]
    ) -> None:
        assert golden_cases, "give at least one golden case: a contract without cases proves nothing"
        wrong = []
        for number, (observation, expected) in enumerate(golden_cases):
            reading = detector.read(observation)
            self.check_reading(detector, reading)
            got = None if reading is None else reading.state
            if got != expected:
                wrong.append(f"case {number}: expected {expected}, read {got} ({reading and reading.evidence!r})")
        assert not wrong, "golden cases read wrong:\n" + "\n".join(wrong)

    def test_read_never_raises_on_odd_input(self, detector: StateDetector) -> None:
        for observation in odd_observations():
            try:
                reading = detector.read(observation)
            except Exception as exc:
                pytest.fail(f"read raised {type(exc).__name__}: {exc} on screen {observation.screen[:60]!r}")
            self.check_reading(detector, reading)

    def test_read_never_raises_on_random_screens(self, detector: StateDetector) -> None:
        """With hypothesis installed it searches; without it a seeded random corpus stands in."""

        def check(screen: str) -> None:
            self.check_reading(detector, detector.read(Observation("shell", screen)))

        if importlib.util.find_spec("hypothesis") is None:
            for screen in _random_screens(seed=20_26, count=300):
                check(screen)
            return
        from hypothesis import HealthCheck, given, settings
        from hypothesis import strategies as st

        run = settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))(
            given(st.text(max_size=2_000))(check)
        )
        run()

    def test_read_is_pure(
        self, detector: StateDetector, golden_cases: Sequence[tuple[Observation, SessionState | None]]
    ) -> None:
        for observation in [*(case for case, _ in golden_cases), *odd_observations()[:5]]:
            assert detector.read(observation) == detector.read(observation), "same observation, different reading"

    def test_read_is_cheap_on_a_huge_screen(self, detector: StateDetector) -> None:
        huge = Observation("shell", screen="\n".join("output line " * 8 for _ in range(10_000)))
        started = time.perf_counter()
        detector.read(huge)
        elapsed = time.perf_counter() - started
        assert elapsed < self.huge_screen_seconds, f"read took {elapsed:.2f} s on a 1 MB screen"


class DiscussionModeContract:
    """Provide a ``mode`` fixture. Runs it under the reference runner for 1 to 5 participants."""

    topic = "Should the cache be written through or behind?"

    def test_is_a_discussion_mode(self, mode: DiscussionMode) -> None:
        assert isinstance(mode, DiscussionMode), "the mode lacks name, description or next_step"
        _assert_valid_name(mode.name, "mode")
        assert isinstance(mode.description, str), "description must be a str"

    @pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
    def test_finishes_within_max_rounds(self, mode: DiscussionMode, count: int) -> None:
        participants = [f"agent{n}" for n in range(1, count + 1)]
        run = self.run(mode, participants)
        assert isinstance(run.finished, Finished)
        assert isinstance(run.finished.outcome, str) and run.finished.outcome.strip(), "Finished needs an outcome"
        assert run.state.round <= run.state.max_rounds
        assert run.hops, "the mode finished without asking anyone anything"
        assert {hop.participant for hop in run.hops} <= set(participants)
        assert all(hop.prompt.strip() for hop in run.hops)

    @pytest.mark.parametrize("max_rounds", [1, 2])
    def test_respects_a_small_max_rounds(self, mode: DiscussionMode, max_rounds: int) -> None:
        run = self.run(mode, ["agent1", "agent2", "agent3"], max_rounds=max_rounds)
        assert run.state.round <= max_rounds

    def test_survives_empty_replies(self, mode: DiscussionMode) -> None:
        """A participant that times out answers nothing; the mode must still finish."""
        self.run(mode, ["agent1", "agent2"], reply=lambda hop, state: "")

    def test_is_deterministic(self, mode: DiscussionMode) -> None:
        first, second = self.run(mode, ["agent1", "agent2"]), self.run(mode, ["agent1", "agent2"])
        assert first.hops == second.hops and first.finished == second.finished

    def test_prompts_carry_the_topic_or_the_transcript(self, mode: DiscussionMode) -> None:
        """Someone must see what is being discussed: the topic, or replies quoted from the transcript."""
        marker = "zebra-7781"
        run = self.run(mode, ["agent1", "agent2"], topic=f"Discuss {marker}")
        assert any(marker in hop.prompt for hop in run.hops), "no prompt mentions the topic"

    def run(self, mode: DiscussionMode, participants: list[str], **options: Any) -> DiscussionRun:
        topic = options.pop("topic", self.topic)
        try:
            return run_discussion(mode, topic, participants, **options)
        except DiscussionRunError as exc:
            pytest.fail(f"{len(participants)} participants: {exc}")


def _sample_notification(kind: NotificationKind) -> Notification:
    return Notification(
        kind=kind,
        session="contract-session",
        title=f"contract {kind.value} ✓",
        body="Line one\nline two with ünïcödé and a long tail " + "·" * 500,
        user="contract-user",
        url="http://127.0.0.1:1/session/contract-session",
        dedup_key=f"contract-{kind.value}",
    )


class NotifierContract:
    """Provide ``notifier``; optionally ``delivered``: a list, or a callable returning what was delivered."""

    notify_timeout = 5.0

    @pytest.fixture
    def delivered(self) -> Callable[[], Sequence[Any]] | Sequence[Any] | None:
        return None

    def test_is_a_notifier(self, notifier: Notifier) -> None:
        assert isinstance(notifier, Notifier), "the notifier lacks name or notify"
        _assert_valid_name(notifier.name, "notifier")
        assert inspect.iscoroutinefunction(notifier.notify), "notify must be an async def"

    @pytest.mark.parametrize("kind", list(NotificationKind))
    def test_notify_each_kind_completes(
        self,
        notifier: Notifier,
        delivered: Callable[[], Sequence[Any]] | Sequence[Any] | None,
        kind: NotificationKind,
    ) -> None:
        def seen() -> list[Any]:
            return list(delivered() if callable(delivered) else delivered or ())

        before = len(seen())
        notification = _sample_notification(kind)

        async def deliver() -> None:
            await asyncio.wait_for(notifier.notify(notification), self.notify_timeout)

        try:
            asyncio.run(deliver())
        except TimeoutError:
            pytest.fail(f"notify({kind}) did not finish within {self.notify_timeout} s")
        if delivered is None:
            return
        new = seen()[before:]
        assert new, f"notify({kind}) returned but nothing was delivered"
        assert any(notification.title in repr(item) or notification.session in repr(item) for item in new), (
            f"what was delivered does not mention the title or the session: {new!r}"
        )

    def test_notify_a_minimal_notification(self, notifier: Notifier) -> None:
        minimal = Notification(NotificationKind.TURN_FINISHED, session="s", title="t", body="")

        async def deliver() -> None:
            await asyncio.wait_for(notifier.notify(minimal), self.notify_timeout)

        asyncio.run(deliver())
