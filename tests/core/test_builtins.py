from __future__ import annotations

from pathlib import Path

from imcodes_core.builtins.screen import AnsweredDetector, GenericScreenDetector, PaneLifeDetector
from imcodes_core.builtins.shell import ShellDriver
from imcodes_core.drivers import LaunchRequest
from imcodes_core.host import PluginSettings, make_plugin_host
from imcodes_core.states import (
    PERMISSION_ANSWERED,
    AgentEvent,
    Observation,
    SessionArbiter,
    SessionState,
    SignalSource,
    StateReading,
)


def test_builtins_are_registered_first_and_usable_without_entry_points() -> None:
    host = make_plugin_host(PluginSettings(), load_entry_points=False)
    assert [p.name for p in host.plugins] == ["builtin-shell", "builtin-screen"]
    assert host.agent_driver("shell").driver.name == "shell"
    assert {s.name for s in host.state_detectors()} == {"pane-life", "imcodes-answers", "generic-screen"}


def test_shell_launch_plan_exports_the_session(tmp_path: Path) -> None:
    plan = ShellDriver().launch_plan(LaunchRequest(session="shell-1", cwd=tmp_path))
    assert plan.env["IMCODES_SESSION"] == "shell-1"
    assert plan.cwd == tmp_path
    assert Path(plan.argv[0]).name in {"bash", "sh", "zsh", "dash", "fish"}


def test_generic_detector_reads_common_screens() -> None:
    detector = GenericScreenDetector()

    def state(screen: str) -> SessionState | None:
        reading = detector.read(Observation(driver="shell", screen=screen))
        return reading.state if reading else None

    assert state("") is SessionState.STARTING
    assert state("user@host:~/proj$ ") is SessionState.IDLE
    assert state("building...\n⠋ Thinking… (esc to interrupt)") is SessionState.WORKING
    assert state("Bash(rm -rf build)\nDo you want to proceed?\n❯ 1. Yes\n  2. No") is SessionState.WAITING_PERMISSION


def test_pane_life_detector_reports_exit_status() -> None:
    detector = PaneLifeDetector()
    assert detector.read(Observation(driver="shell")) is None
    exited = detector.read(Observation(driver="shell", pane_dead=True, exit_status=0))
    failed = detector.read(Observation(driver="shell", pane_dead=True, exit_status=2))
    assert exited is not None and exited.state is SessionState.EXITED
    assert failed is not None and failed.state is SessionState.ERROR and "exit status 2" in failed.evidence


def test_screen_pattern_detectors_read_the_dead_pane_line() -> None:
    from imcodes_core.screens import ScreenPatternDetector
    from imcodes_core.states import SessionState

    class Probe(ScreenPatternDetector):
        name = "probe"

    exited, failed = (
        Probe()._dead_pane("Pane is dead (status 0, Sat Nov 28)"),
        Probe()._dead_pane("Pane is dead (status 2)"),
    )
    assert exited is not None and exited.state is SessionState.EXITED and exited.detector == "probe"
    assert failed is not None and failed.state is SessionState.ERROR and "status 2" in failed.evidence
    assert Probe()._dead_pane("$ echo Pane is dead") is None


def test_an_answer_from_imcodes_reads_working_until_the_agent_says_more() -> None:
    detector = AnsweredDetector()
    asked = AgentEvent("PermissionRequest", 100.0, {"tool_name": "Bash"})
    answered = AgentEvent(PERMISSION_ANSWERED, 101.0, {"choice": "1", "label": "Yes"})
    assert detector.read(Observation("claude", events=(asked,))) is None
    reading = detector.read(Observation("claude", events=(asked, answered)))
    assert reading is not None and reading.state is SessionState.WORKING and reading.at == 101.0
    assert reading.source is SignalSource.STRUCTURED and "(Yes)" in reading.evidence
    later = AgentEvent("PermissionRequest", 102.0, {"tool_name": "Bash"})
    assert detector.read(Observation("claude", events=(asked, answered, later))) is None

    # with the arbiter: the answer supersedes the older question's reading; a newer screen idle supersedes it
    hook = StateReading(
        SessionState.WAITING_PERMISSION, 0.95, "hook", "claude-events", SignalSource.STRUCTURED, at=100.0
    )
    arbiter = SessionArbiter()
    assert arbiter.arbitrate([hook, reading], 101.5).state is SessionState.WORKING
    idle = StateReading(SessionState.IDLE, 0.9, "input box", "claude-screen")
    assert arbiter.arbitrate([hook, reading, idle], 103.0).state is SessionState.IDLE
