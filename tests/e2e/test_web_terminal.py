"""The first thing a user does: sign in, start a shell session from the dialog, type into it, see the answer.
Real PostgreSQL, real server, real daemon, real tmux on a private socket, real Chromium."""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.tmux, pytest.mark.slow]

KNOWN_STATES = {"starting", "idle", "working", "waiting_permission", "error", "exited", "setup", "unknown"}
LINE_ON_SCREEN = "(text) => window.imcodes.screenText().split('\\n').some((line) => line.trim() === text)"


def test_start_a_shell_type_echo_and_see_it(
    full_stack, imcodes, new_context, screenshot, start_shell, tmp_path
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    page = new_context(1440, 900).new_page()
    session = start_shell(page, folder)

    sessions = imcodes.tmux("list-sessions", "-F", "#{session_name}").stdout.split()
    assert session in sessions, "the session is a real tmux session on the daemon's private socket"
    row = page.locator(f"button.session[data-session='{session}']")
    row.wait_for()
    assert row.get_attribute("data-state") in KNOWN_STATES
    assert "e2e shell" in row.text_content()

    token = f"hello-{uuid.uuid4().hex[:10]}"
    page.locator("#terminal").click()
    page.keyboard.type(f"echo {token}")
    page.keyboard.press("Enter")
    page.wait_for_function(LINE_ON_SCREEN, arg=token, timeout=20_000)
    pane = imcodes.tmux("capture-pane", "-p", "-t", session).stdout
    assert token in pane.splitlines(), "the output came from the real pane"
    screenshot(page, "terminal-1440x900")

    # phone size: the sidebar folds away, the terminal takes the width, the key bar is there and works
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(400)
    assert page.locator("#keybar").is_visible()
    sidebar = page.locator("#sidebar").bounding_box()
    assert sidebar is None or sidebar["x"] + sidebar["width"] <= 1
    terminal = page.locator("#terminal").bounding_box()
    assert terminal is not None and terminal["width"] >= 370
    page.keyboard.type("sleep 300")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    page.click("#keybar button[data-key='ctrl-c']")  # if ^C did not reach the shell, sleep would swallow the echo
    after = f"after-{uuid.uuid4().hex[:8]}"
    page.keyboard.type(f"echo {after}")
    page.keyboard.press("Enter")
    page.wait_for_function(LINE_ON_SCREEN, arg=after, timeout=20_000)
    screenshot(page, "terminal-390x844")
    page.click("#sidebar-toggle")
    page.wait_for_timeout(300)
    screenshot(page, "sidebar-390x844")
