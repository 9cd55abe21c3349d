"""Each contract fails for a plugin that breaks its promise: run the contracts on broken plugins with pytester."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]


def outcomes(pytester: pytest.Pytester, source: str) -> dict[str, str]:
    """Run ``source`` as a test module in-process; map each test's name (class::test[param]) to its outcome."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n")
    pytester.makepyfile(test_broken=textwrap.dedent(source))
    recorder = pytester.inline_run("-p", "no:cacheprovider")
    results: dict[str, str] = {}
    for report in recorder.getreports("pytest_runtest_logreport"):
        name = report.nodeid.split("::", 1)[1]
        if report.when == "call" or report.outcome != "passed":
            results[name] = report.outcome if results.get(name) != "failed" else "failed"
    return results


def failed(results: dict[str, str]) -> set[str]:
    return {name.split("::")[-1] for name, outcome in results.items() if outcome == "failed"}


def test_agent_driver_contract_catches_a_careless_driver(pytester: pytest.Pytester) -> None:
    results = outcomes(
        pytester,
        """
        import pytest
        from imcodes_core.drivers import DriverKind, InputDelivery, LaunchPlan
        from imcodes_core.testing.contracts import AgentDriverContract

        class CarelessDriver:
            name = "careless"
            kind = DriverKind.PROCESS
            input_delivery = InputDelivery.SEND_KEYS
            executable = "careless"

            def launch_plan(self, request):
                return LaunchPlan(["careless"], {"HOME": "/tmp"}, None)  # no session, no cwd, no extra args

            def installed_version(self):
                raise FileNotFoundError("careless")

        class TestCareless(AgentDriverContract):
            @pytest.fixture
            def driver(self):
                return CarelessDriver()
        """,
    )
    assert failed(results) == {
        "test_launch_plan_exports_the_session",
        "test_launch_plan_env_is_strings_and_keeps_the_request_env",
        "test_launch_plan_honours_cwd",
        "test_launch_plan_passes_extra_args",
        "test_installed_version_never_raises",
    }
    assert results["TestCareless::test_launch_plan_argv_is_non_empty_strings"] == "passed"


def test_agent_driver_contract_catches_bad_names_kinds_and_argv(pytester: pytest.Pytester) -> None:
    results = outcomes(
        pytester,
        """
        import pytest
        from imcodes_core.drivers import LaunchPlan
        from imcodes_core.testing.contracts import AgentDriverContract

        class SloppyDriver:
            name = "Sloppy Driver!"
            kind = "process"
            input_delivery = "keys"
            executable = None

            def launch_plan(self, request):
                return LaunchPlan([], {"IMCODES_SESSION": request.session, **request.env}, request.cwd)

            def installed_version(self):
                return None

        class TestSloppy(AgentDriverContract):
            @pytest.fixture
            def driver(self):
                return SloppyDriver()
        """,
    )
    assert {
        "test_is_an_agent_driver",
        "test_kind_and_input_delivery_are_the_enums",
        "test_launch_plan_argv_is_non_empty_strings",
        "test_launch_plan_passes_extra_args",
    } == failed(results)


def test_state_detector_contract_catches_a_fragile_impure_detector(pytester: pytest.Pytester) -> None:
    results = outcomes(
        pytester,
        """
        import itertools
        import pytest
        from imcodes_core.states import Observation, SessionState, StateDetector, StateReading

        counter = itertools.count()

        class FragileDetector(StateDetector):
            name = "fragile"

            def read(self, observation):
                last = observation.screen.splitlines()[-1]  # IndexError on an empty screen
                if len(observation.screen) > 100_000:
                    raise MemoryError("too big")
                state = SessionState.IDLE if last.endswith("$") else SessionState.WORKING
                return StateReading(state, 0.5, f"read #{next(counter)}", "fragile")

        from imcodes_core.testing.contracts import StateDetectorContract

        class TestFragile(StateDetectorContract):
            @pytest.fixture
            def detector(self):
                return FragileDetector()

            @pytest.fixture
            def golden_cases(self):
                idle, wrong = Observation("shell", "x\\n$"), Observation("shell", "x")
                return [(idle, SessionState.IDLE), (wrong, SessionState.IDLE)]
        """,
    )
    assert failed(results) == {
        "test_golden_cases_read_as_expected",  # the second case reads working
        "test_read_never_raises_on_odd_input",
        "test_read_never_raises_on_random_screens",
        "test_read_is_pure",
        "test_read_is_cheap_on_a_huge_screen",  # raises there too
    }
    assert results["TestFragile::test_name_is_valid"] == "passed"


def test_state_detector_contract_catches_missing_evidence_slow_reads_and_no_cases(pytester: pytest.Pytester) -> None:
    results = outcomes(
        pytester,
        """
        import time
        import pytest
        from imcodes_core.states import SessionState, StateDetector, StateReading
        from imcodes_core.testing.contracts import StateDetectorContract

        class Mute(StateDetector):
            name = "mute"

            def read(self, observation):
                if len(observation.screen) > 500_000:
                    time.sleep(0.3)
                return StateReading(SessionState.IDLE, 0.1, "", "somebody-else")

        class TestMute(StateDetectorContract):
            huge_screen_seconds = 0.2

            @pytest.fixture
            def detector(self):
                return Mute()

            @pytest.fixture
            def golden_cases(self):
                return []
        """,
    )
    assert failed(results) == {
        "test_golden_cases_read_as_expected",
        "test_read_never_raises_on_odd_input",
        "test_read_never_raises_on_random_screens",
        "test_read_is_cheap_on_a_huge_screen",
    }


def test_discussion_mode_contract_catches_a_mode_that_never_ends(pytester: pytest.Pytester) -> None:
    results = outcomes(
        pytester,
        """
        import pytest
        from imcodes_core.discussions import Hop, Speak
        from imcodes_core.testing.contracts import DiscussionModeContract

        class Forever:
            name = "forever"
            description = "talks forever"

            def next_step(self, state):
                return Speak((Hop(state.participants[0], "and another thing"),))

        class TestForever(DiscussionModeContract):
            @pytest.fixture
            def mode(self):
                return Forever()
        """,
    )
    assert results["TestForever::test_is_a_discussion_mode"] == "passed"
    assert failed(results) == {
        "test_finishes_within_max_rounds[1]",
        "test_finishes_within_max_rounds[2]",
        "test_finishes_within_max_rounds[3]",
        "test_finishes_within_max_rounds[4]",
        "test_finishes_within_max_rounds[5]",
        "test_respects_a_small_max_rounds[1]",
        "test_respects_a_small_max_rounds[2]",
        "test_survives_empty_replies",
        "test_is_deterministic",
        "test_prompts_carry_the_topic_or_the_transcript",
    }


def test_discussion_mode_contract_catches_strangers_and_runaway_rounds(pytester: pytest.Pytester) -> None:
    results = outcomes(
        pytester,
        """
        import pytest
        from imcodes_core.discussions import Finished, Hop, Speak
        from imcodes_core.testing.contracts import DiscussionModeContract

        class Runaway:
            name = "runaway"
            description = "three rounds whatever max_rounds says, then asks a stranger when alone"

            def next_step(self, state):
                if state.round >= 3:
                    return Finished("done")
                who = "stranger" if len(state.participants) == 1 else state.participants[-1]
                return Speak((Hop(who, "go on"),), next_round=True)

        class TestRunaway(DiscussionModeContract):
            @pytest.fixture
            def mode(self):
                return Runaway()
        """,
    )
    assert failed(results) == {
        "test_finishes_within_max_rounds[1]",  # a hop for someone who is not a participant
        "test_respects_a_small_max_rounds[1]",
        "test_respects_a_small_max_rounds[2]",
        "test_prompts_carry_the_topic_or_the_transcript",
    }


def test_notifier_contract_catches_hangs_sync_notify_and_lost_deliveries(pytester: pytest.Pytester) -> None:
    results = outcomes(
        pytester,
        """
        import asyncio
        import pytest
        from imcodes_core.testing.contracts import NotifierContract

        class Hangs:
            name = "hangs"

            async def notify(self, notification):
                if notification.kind == "permission":
                    await asyncio.sleep(30)

        class TestHangs(NotifierContract):
            notify_timeout = 0.2

            @pytest.fixture
            def notifier(self):
                return Hangs()

        class Loses:
            name = "loses"
            sent = []

            async def notify(self, notification):
                if notification.kind != "error":
                    self.sent.append(notification)

        class TestLoses(NotifierContract):
            @pytest.fixture
            def notifier(self):
                return Loses()

            @pytest.fixture
            def delivered(self, notifier):
                return notifier.sent

        class Blocking:
            name = "blocking"

            def notify(self, notification):
                return None

        class TestBlocking(NotifierContract):
            @pytest.fixture
            def notifier(self):
                return Blocking()
        """,
    )
    bad = {name for name, outcome in results.items() if outcome == "failed"}
    assert "TestHangs::test_notify_each_kind_completes[permission]" in bad
    assert "TestHangs::test_notify_each_kind_completes[error]" not in bad
    assert "TestLoses::test_notify_each_kind_completes[error]" in bad
    assert "TestLoses::test_notify_each_kind_completes[turn_finished]" not in bad
    assert "TestBlocking::test_is_a_notifier" in bad
    assert "TestBlocking::test_notify_a_minimal_notification" in bad
