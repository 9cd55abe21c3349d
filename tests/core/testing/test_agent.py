"""The scripted fake agent: over pipes (rendered by FakeTerminal) and in a real tmux pane on a private socket."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from imcodes_core.builtins.screen import GenericScreenDetector, PaneLifeDetector
from imcodes_core.states import Observation, SessionState, arbitrate
from imcodes_core.testing.agent import QUESTION, ScriptedAgent, Turn, main, read_events
from imcodes_core.testing.terminal import FakeTerminal

SCRIPT = ScriptedAgent(
    turns=(
        Turn(when="deploy", reply="Deployed {prompt}.", ask=True, work_seconds=0.2),
        Turn(when="crash", reply="Something broke.", exit_code=3, work_seconds=0.0),
    ),
    fallback=Turn(reply="Echo: {prompt}", work_seconds=0.2),
)


def run_piped(tmp_path: Path, stdin: str, script: ScriptedAgent = SCRIPT) -> tuple[int, str, Path]:
    events = tmp_path / "events.jsonl"
    argv = script.argv(script.write(tmp_path / "agent.json"), events)
    # bytes, not text=True: universal newlines would turn the spinner's CR into LF
    done = subprocess.run(argv, input=stdin.encode(), capture_output=True, timeout=30, check=False)
    return done.returncode, done.stdout.decode(), events


def test_a_turn_over_pipes_renders_and_reads_idle(tmp_path: Path) -> None:
    code, out, events = run_piped(tmp_path, "hello there\n")
    terminal = FakeTerminal(80, 10)
    terminal.feed(out.replace("\n", "\r\n"))
    lines = terminal.lines()
    assert lines[0] == "Fake Agent 1.0 (imcodes test kit)"
    assert "● Echo: hello there" in lines
    assert "esc to interrupt" in out, "the spinner line was drawn while working"
    assert "esc to interrupt" not in terminal.screen_text(), "and erased afterwards"
    assert code == 0 and lines[-1] == "" and "Bye." in terminal.screen_text()
    kinds = [event.kind for event in read_events(events)]
    assert kinds == ["SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"]


def test_permission_denied_and_granted(tmp_path: Path) -> None:
    code, out, events = run_piped(tmp_path, "deploy prod\nn\ndeploy staging\n/exit\n")
    assert code == 0
    assert out.count(QUESTION) == 1, "the scripted turn is used once; the second deploy falls back"
    assert "● Not allowed; nothing was run." in out and "● Echo: deploy staging" in out
    kinds = [event.kind for event in read_events(events)]
    assert kinds == [
        "SessionStart",
        "UserPromptSubmit",
        "PermissionRequest",
        "Stop",
        "UserPromptSubmit",
        "Stop",
        "SessionEnd",
    ]
    assert read_events(events)[3].data["reason"] == "denied"


def test_scripted_exit_code_and_events_carry_the_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMCODES_SESSION", "s-crash")
    code, out, events = run_piped(tmp_path, "please crash\nnever read\n")
    assert code == 3 and "● Something broke." in out
    last = read_events(events)[-1]
    assert last.kind == "SessionEnd" and last.data["exit_code"] == 3 and last.data["session"] == "s-crash"


def test_bad_script_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"turns": [{"reply": "x", "colour": "red"}]}', encoding="utf-8")
    assert main(["--script", str(bad)]) == 2
    assert "cannot read the script" in capsys.readouterr().err
    bad.write_text('{"speed": 1}', encoding="utf-8")
    assert main(["--script", str(bad)]) == 2
    assert main(["--script", str(tmp_path / "missing.json")]) == 2


def test_script_round_trips_through_json() -> None:
    assert ScriptedAgent.from_json(SCRIPT.to_json()) == SCRIPT


# -- a real tmux pane --------------------------------------------------------------------------------------------


def tmux(socket: str, *args: str) -> str:
    done = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=10, check=True)
    return done.stdout


def observe(socket: str) -> Observation:
    dead, status = tmux(socket, "display-message", "-p", "-t", "agent", "#{pane_dead} #{pane_dead_status}").split(" ")
    screen = tmux(socket, "capture-pane", "-p", "-t", "agent")
    return Observation(
        "fake-agent", screen, pane_dead=dead == "1", exit_status=int(status) if status.strip() else None
    )


def wait_for_state(socket: str, wanted: SessionState, timeout: float = 10.0) -> Observation:
    detectors = (PaneLifeDetector(), GenericScreenDetector())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        observation = observe(socket)
        verdict = arbitrate([detector.read(observation) for detector in detectors])
        if verdict.state is wanted:
            return observation
        time.sleep(0.05)
    raise AssertionError(f"never {wanted}; last screen:\n{observe(socket).screen}")


@pytest.mark.tmux
def test_in_a_real_tmux_pane_the_states_follow_the_script(tmp_path: Path, tmux_socket: str) -> None:
    script = ScriptedAgent(turns=(Turn(when="deploy", reply="Deployed.", ask=True, work_seconds=1.5),))
    events = tmp_path / "events.jsonl"
    argv = script.argv(script.write(tmp_path / "agent.json"), events)
    tmux(tmux_socket, "new-session", "-d", "-s", "agent", "-x", "100", "-y", "30", "-e", "IMCODES_SESSION=s1")
    tmux(tmux_socket, "set-option", "-t", "agent", "remain-on-exit", "on")
    tmux(tmux_socket, "respawn-pane", "-k", "-t", "agent", " ".join(f"'{a}'" for a in argv))
    wait_for_state(tmux_socket, SessionState.IDLE)
    tmux(tmux_socket, "send-keys", "-t", "agent", "-l", "deploy now")
    tmux(tmux_socket, "send-keys", "-t", "agent", "Enter")
    assert "esc to interrupt" in wait_for_state(tmux_socket, SessionState.WORKING).screen
    assert QUESTION in wait_for_state(tmux_socket, SessionState.WAITING_PERMISSION).screen
    tmux(tmux_socket, "send-keys", "-t", "agent", "y", "Enter")
    assert "● Deployed." in wait_for_state(tmux_socket, SessionState.IDLE).screen
    tmux(tmux_socket, "send-keys", "-t", "agent", "-l", "/exit")
    tmux(tmux_socket, "send-keys", "-t", "agent", "Enter")
    final = wait_for_state(tmux_socket, SessionState.EXITED)
    # tmux 3.3a sometimes leaves the dead process unreaped (a zombie) for a long while, and reports the exit status
    # only once it has reaped it: the status is checked when tmux knows it, the exit itself through the events
    assert final.pane_dead and final.exit_status in (None, 0)
    assert [e.kind for e in read_events(events)][-1] == "SessionEnd"
    assert {e.data["session"] for e in read_events(events)} == {"s1"}


@pytest.mark.tmux
def test_ctrl_c_interrupts_a_turn_in_tmux(tmp_path: Path, tmux_socket: str) -> None:
    script = ScriptedAgent(fallback=Turn(reply="too late", work_seconds=30))
    argv = script.argv(script.write(tmp_path / "agent.json"), tmp_path / "events.jsonl")
    tmux(tmux_socket, "new-session", "-d", "-s", "agent", "-x", "100", "-y", "30", " ".join(f"'{a}'" for a in argv))
    wait_for_state(tmux_socket, SessionState.IDLE)
    tmux(tmux_socket, "send-keys", "-t", "agent", "-l", "long job")
    tmux(tmux_socket, "send-keys", "-t", "agent", "Enter")
    wait_for_state(tmux_socket, SessionState.WORKING)
    tmux(tmux_socket, "send-keys", "-t", "agent", "C-c")
    screen = wait_for_state(tmux_socket, SessionState.IDLE).screen
    assert "Interrupted by user" in screen and "too late" not in screen
