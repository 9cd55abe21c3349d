"""Restarts seen from the browser: the daemon stops (the tmux session survives, the page says the server-daemon hop
is down), starts again (the session is adopted with its history, the page carries on without a reload)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.tmux, pytest.mark.slow]

LINE_ON_SCREEN = "(text) => window.imcodes.screenText().split('\\n').some((line) => line.trim() === text)"
MACHINE_ONLINE = "([m, online]) => { const x = window.imcodes.store.machine(m); return !!x && x.online === online; }"


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _daemon_pid(root: int) -> int:
    for child in _children(root):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"imcodes_core.daemon" in cmdline:
            return child
    raise AssertionError("imcodes up has no daemon child")


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":  # exited, not yet reaped by its parent
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} did not stop within {timeout} s")


def _assert_timeline_clean(events: list[dict]) -> None:
    keys = [(e["epoch"], e["seq"]) for e in events]
    assert keys == sorted(keys), "timeline out of order"
    assert len(keys) == len(set(keys)), "duplicate (epoch, seq) in the page's timeline"
    for (e1, s1), (e2, s2) in itertools.pairwise(keys):
        assert e2 > e1 or s2 == s1 + 1, f"gap in the timeline between seq {s1} and {s2}"


def test_daemon_restart_keeps_the_tmux_session_and_the_page_adopts_it(
    full_stack, imcodes, new_context, screenshot, start_shell, tmp_path
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    page = new_context(1440, 900).new_page()
    session = start_shell(page, folder)
    machine = page.evaluate("window.imcodes.current()")["machine"]
    before = f"before-{uuid.uuid4().hex[:8]}"
    page.locator("#terminal").click()
    page.keyboard.type(f"echo {before}")
    page.keyboard.press("Enter")
    page.wait_for_function(LINE_ON_SCREEN, arg=before, timeout=20_000)

    daemon = _daemon_pid(imcodes.process.pid)
    os.kill(daemon, signal.SIGTERM)
    _wait_gone(daemon, 15)
    assert imcodes.tmux("has-session", "-t", session).returncode == 0, "the agent's tmux session outlives the daemon"
    page.wait_for_function(MACHINE_ONLINE, arg=[machine, False], timeout=40_000)
    assert page.locator("#connection").get_attribute("data-hop") == "server-daemon"
    screenshot(page, "daemon-down-1440x900")

    restarted = subprocess.Popen(
        [sys.executable, "-m", "imcodes_core.daemon", "--home", str(imcodes.home)],
        env=imcodes.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        page.wait_for_function(MACHINE_ONLINE, arg=[machine, True], timeout=40_000)
        assert page.locator("#connection").get_attribute("data-hop") == "ok"
        page.locator(f"button.session[data-session='{session}']").wait_for(timeout=20_000)
        # adopted with its history: the re-subscribed terminal shows what was typed before the restart
        page.wait_for_function(LINE_ON_SCREEN, arg=before, timeout=20_000)
        after = f"after-{uuid.uuid4().hex[:8]}"
        page.locator("#terminal").click()
        page.keyboard.type(f"echo {after}")
        page.keyboard.press("Enter")
        page.wait_for_function(LINE_ON_SCREEN, arg=after, timeout=20_000)
        events = page.evaluate("([m, s]) => window.imcodes.timeline(m, s)", [machine, session])
        assert events, "the page received the session's timeline"
        _assert_timeline_clean(events)
        screenshot(page, "daemon-restarted-1440x900")
    finally:
        restarted.send_signal(signal.SIGTERM)
        try:
            restarted.wait(15)
        except subprocess.TimeoutExpired:
            restarted.kill()
            restarted.wait(5)


HOP_IS = "(hop) => document.querySelector('#connection').dataset.hop === hop"


def test_server_restart_while_output_streams_the_page_reconnects_and_replays_without_gap(
    full_stack, imcodes, new_context, start_shell, tmp_path
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    page = new_context(1440, 900).new_page()
    session = start_shell(page, folder)
    machine = page.evaluate("window.imcodes.current()")["machine"]
    done = f"done-{uuid.uuid4().hex[:8]}"
    page.locator("#terminal").click()
    page.keyboard.type(f"for i in $(seq 1 400); do echo line-$i; sleep 0.02; done; echo {done}")
    page.keyboard.press("Enter")
    page.wait_for_function("() => /line-\\d+/.test(window.imcodes.screenText())", timeout=20_000)

    imcodes.stop()  # the whole stack goes away mid-stream (the tmux session keeps printing)
    page.wait_for_function(HOP_IS, arg="browser-server", timeout=20_000)
    assert imcodes.tmux("has-session", "-t", session).returncode == 0
    imcodes.lines.clear()
    imcodes.start()  # same port, same data

    page.wait_for_function(HOP_IS, arg="ok", timeout=60_000)  # reconnected by itself: no reload
    page.wait_for_function(LINE_ON_SCREEN, arg=done, timeout=30_000)
    events = page.evaluate("([m, s]) => window.imcodes.timeline(m, s)", [machine, session])
    assert len(events) >= 2
    _assert_timeline_clean(events)
