"""Sharing in real Chromium, two people in two browser contexts: the owner invites a second user, shares the local
machine as viewer (they watch the session and its output, with no key bar and a disabled composer), upgrades them to
participant (their typing reaches the real tmux pane), reads the audit trail, then revokes: the machine leaves the
grantee's sidebar within seconds. Real PostgreSQL, server, daemon and tmux on a private socket."""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.tmux, pytest.mark.slow]

LINE_ON_SCREEN = "(text) => window.imcodes.screenText().split('\\n').some((line) => line.trim() === text)"


def _open_panel(page) -> None:
    page.click("#open-security")
    page.locator("#security-dialog[open]").wait_for()
    page.locator("#security-machines .device[data-kind='machine']").first.wait_for()


def _share(owner, role: str) -> None:
    row = owner.locator("#security-machines .device[data-kind='machine']").first
    row.locator("[data-action='share']").click()
    form = row.locator(".share-form")
    form.wait_for()
    form.locator("select[name='role']").select_option(role)
    form.locator("[data-action='confirm-share']").click()
    form.wait_for(state="detached")
    owner.locator(f"#shares-mine .device[data-kind='share'] .badge:text-is('{role}')").wait_for()


def test_invite_share_view_participate_audit_and_revoke(
    full_stack, imcodes, new_context, screenshot, start_shell, tmp_path
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    owner = new_context(1440, 900).new_page()
    session = start_shell(owner, folder)
    machine = owner.evaluate("window.imcodes.current()")["machine"]
    shown = f"shown-{uuid.uuid4().hex[:8]}"
    owner.locator("#terminal").click()
    owner.keyboard.type(f"echo {shown}")
    owner.keyboard.press("Enter")
    owner.wait_for_function(LINE_ON_SCREEN, arg=shown, timeout=20_000)

    # the owner invites; the link opens in another browser context, which becomes the new user
    _open_panel(owner)
    owner.click("#invite-someone")
    link = owner.locator("#invitation-link").inner_text()
    guest = new_context(1440, 900).new_page()
    guest.goto(link)
    guest.fill("input[name='name']", "guest-gwen")
    with guest.expect_navigation():
        guest.click("button[type='submit']")
    guest.locator("#app").wait_for(state="attached", timeout=30_000)
    guest.wait_for_function("() => window.imcodes && window.imcodes.store", timeout=30_000)
    assert guest.locator(".machine").count() == 0, "a new user sees none of the owner's machines"

    # shared as viewer: the machine and the session appear at once; output visible; no key bar, composer disabled
    _share(owner, "viewer")
    guest.locator(f".machine[data-machine='{machine}']").wait_for(timeout=10_000)
    guest.locator(f"button.session[data-session='{session}']").click()
    guest.locator("#terminal-wrap").wait_for(state="visible")
    guest.wait_for_function(LINE_ON_SCREEN, arg=shown, timeout=20_000)
    guest.locator("#session-view-only").wait_for(state="visible")
    assert not guest.locator("#keybar").is_visible()
    guest.click("#show-chat")
    guest.locator("#chat-input").wait_for(state="visible")
    guest.wait_for_function("() => document.querySelector('#chat-input').disabled", timeout=5_000)
    assert guest.locator("#chat-send").is_disabled()
    assert "View only" in (guest.locator("#chat-input").get_attribute("placeholder") or "")
    screenshot(guest, "sharing-viewer-chat-1440x900")
    guest.click("#show-terminal")
    blocked = f"blocked-{uuid.uuid4().hex[:8]}"
    guest.locator("#terminal").click()
    guest.keyboard.type(f"echo {blocked}")
    guest.keyboard.press("Enter")
    screenshot(guest, "sharing-viewer-1440x900")

    # upgraded to participant: the same page may type now, and it reaches the real pane
    _share(owner, "participant")
    guest.locator("#session-view-only").wait_for(state="hidden", timeout=10_000)
    typed = f"typed-{uuid.uuid4().hex[:8]}"
    guest.locator("#terminal").click()
    guest.keyboard.type(f"echo {typed}")
    guest.keyboard.press("Enter")
    guest.wait_for_function(LINE_ON_SCREEN, arg=typed, timeout=20_000)
    pane = imcodes.tmux("capture-pane", "-p", "-t", session).stdout
    assert typed in pane.splitlines(), "the participant's typing reached the real pane"
    assert blocked not in pane, "nothing the viewer typed reached the pane"
    screenshot(guest, "sharing-participant-1440x900")

    # the owner's audit viewer: the shares and the participant's input, by name
    row = owner.locator("#security-machines .device[data-kind='machine']").first
    row.locator("[data-action='audit']").click()
    audit = row.locator(".audit-list")
    audit.locator(".audit-event[data-type='terminal.input']").first.wait_for()
    text = audit.inner_text()
    assert "guest-gwen" in text and "shared it" in text and "as participant" in text
    assert typed not in text, "the audit trail never keeps what was typed"
    screenshot(owner, "sharing-audit-1440x900")

    # revoked: the machine leaves the grantee's sidebar within a few seconds, without a reload
    share = owner.locator("#shares-mine .device[data-kind='share']")
    share.locator("[data-action='revoke-share']").click()
    guest.locator(f".machine[data-machine='{machine}']").wait_for(state="detached", timeout=5_000)
    assert guest.locator(".machine").count() == 0
    screenshot(guest, "sharing-revoked-1440x900")
