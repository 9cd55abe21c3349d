"""Sharing in real Chromium, two people in two browser contexts: the owner invites a second user, shares the local
machine as viewer (they watch the session and its output, with no key bar and a disabled composer), upgrades them to
participant (their typing reaches the real tmux pane), reads the audit trail, then revokes: the machine leaves the
grantee's sidebar within seconds.

Per-session roles and removing a person: a guest with a participant share of session A and a viewer share of session
B of the same machine may type in A, and B's controls are view only (nothing typed there reaches its pane); then the
owner removes people from the page's People list: a stale row answers with an error and the list refreshes, and the
removed guest's page is signed out and their next request refused. Real PostgreSQL, server, daemon and tmux on a
private socket."""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.tmux, pytest.mark.slow]

LINE_ON_SCREEN = "(text) => window.imcodes.screenText().split('\\n').some((line) => line.trim() === text)"


def _open_panel(page) -> None:
    page.click("#open-security")
    page.locator("#security-dialog[open]").wait_for()
    page.locator("#security-machines .device[data-kind='machine']").first.wait_for()


def _share(owner, role: str, session: str | None = None) -> None:
    """Share the owner's machine (or one session of it) with the first other user by name, as `role`."""
    row = owner.locator("#security-machines .device[data-kind='machine']").first
    row.locator("[data-action='share']").click()
    form = row.locator(".share-form")
    form.wait_for()
    form.locator("select[name='role']").select_option(role)
    if session is not None:
        form.locator("select[name='session']").select_option(session)
    form.locator("[data-action='confirm-share']").click()
    form.wait_for(state="detached")
    owner.locator(f"#shares-mine .device[data-kind='share'] .badge:text-is('{role}')").first.wait_for()


def _invite(owner, new_context, name: str):
    """The owner (dialog open) makes an invitation; a fresh browser context follows it as `name`: its page."""
    shown = owner.locator("#invitation-link")
    earlier = shown.inner_text() if shown.count() else ""
    owner.click("#invite-someone")
    fresh = "(old) => { const l = document.querySelector('#invitation-link'); return l && l.textContent !== old; }"
    owner.wait_for_function(fresh, arg=earlier)
    link = shown.inner_text()
    guest = new_context(1440, 900).new_page()
    guest.goto(link)
    guest.fill("input[name='name']", name)
    with guest.expect_navigation():
        guest.click("button[type='submit']")
    guest.locator("#app").wait_for(state="attached", timeout=30_000)
    guest.wait_for_function("() => window.imcodes && window.imcodes.store", timeout=30_000)
    return guest


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
    guest = _invite(owner, new_context, "guest-gwen")
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


def _start_another_shell(owner, folder, label: str) -> str:
    """A second session from the new-session dialog of a page already signed in; returns its name."""
    before = owner.evaluate("window.imcodes.current().session")
    owner.click("#new-session")
    owner.select_option("#ns-driver", "shell")
    owner.fill("#ns-cwd", str(folder))
    owner.fill("#ns-label", label)
    owner.click("#ns-submit")
    changed = "(before) => { const c = window.imcodes.current(); return c && c.session !== before; }"
    owner.wait_for_function(changed, arg=before, timeout=30_000)
    return str(owner.evaluate("window.imcodes.current().session"))


def _remove_button_of(owner, name: str):
    return owner.locator("#people .device[data-kind='person']", has_text=name)


REMOVE_BY_API = """async (id) => {
  const cookie = document.cookie.split('; ').find((c) => c.startsWith('imcodes_csrf=')) || '=';
  const csrf = decodeURIComponent(cookie.split('=')[1]);
  const answer = await fetch(`/api/users/${id}/remove`, { method: 'POST', headers: { 'X-CSRF-Token': csrf } });
  return answer.status;
}"""


def test_session_roles_differ_on_one_machine_then_the_owner_removes_people(
    full_stack, imcodes, new_context, screenshot, start_shell, tmp_path
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    owner = new_context(1440, 900).new_page()
    typing_session = start_shell(owner, folder)
    watching_session = _start_another_shell(owner, folder, "watched shell")
    machine = owner.evaluate("window.imcodes.current()")["machine"]

    _open_panel(owner)
    guest = _invite(owner, new_context, "guest-gwen")
    _invite(owner, new_context, "guest-hal")  # a second person, removed behind the page's back below
    _share(owner, "participant", typing_session)  # gwen sorts first: both shares are hers
    _share(owner, "viewer", watching_session)

    # B, shared as viewer: view only although the machine's best role is participant; typing reaches nothing
    guest.locator(f".machine[data-machine='{machine}']").wait_for(timeout=10_000)
    guest.locator(f"button.session[data-session='{watching_session}']").click()
    guest.locator("#terminal-wrap").wait_for(state="visible")
    guest.locator("#session-view-only").wait_for(state="visible", timeout=10_000)
    roles = guest.evaluate(
        "([m, a, b]) => [window.imcodes.store.machine(m).role, window.imcodes.store.role(m, a), "
        "window.imcodes.store.role(m, b)]",
        [machine, typing_session, watching_session],
    )
    assert roles == ["participant", "participant", "viewer"]
    assert not guest.locator("#keybar").is_visible()
    guest.click("#show-chat")
    guest.wait_for_function("() => document.querySelector('#chat-input').disabled", timeout=5_000)
    assert guest.locator("#chat-send").is_disabled()
    assert "View only" in (guest.locator("#chat-input").get_attribute("placeholder") or "")
    guest.click("#show-terminal")
    blocked = f"blocked-{uuid.uuid4().hex[:8]}"
    guest.locator("#terminal").click()
    guest.keyboard.type(f"echo {blocked}")
    guest.keyboard.press("Enter")
    screenshot(guest, "sharing-session-viewer-1440x900")

    # A, shared as participant: the same page may type there, and it reaches A's real pane
    guest.locator(f"button.session[data-session='{typing_session}']").click()
    guest.locator("#session-view-only").wait_for(state="hidden", timeout=5_000)
    guest.click("#show-chat")
    assert "View only" not in (guest.locator("#chat-input").get_attribute("placeholder") or "")
    guest.click("#show-terminal")
    typed = f"typed-{uuid.uuid4().hex[:8]}"
    guest.locator("#terminal").click()
    guest.keyboard.type(f"echo {typed}")
    guest.keyboard.press("Enter")
    guest.wait_for_function(LINE_ON_SCREEN, arg=typed, timeout=20_000)
    assert typed in imcodes.tmux("capture-pane", "-p", "-t", typing_session).stdout.splitlines()
    assert blocked not in imcodes.tmux("capture-pane", "-p", "-t", watching_session).stdout
    screenshot(guest, "sharing-session-participant-1440x900")

    # the owner's People list (reopened: both have accounts now)
    owner.click("#security-close")
    _open_panel(owner)
    people = owner.locator("#people .device[data-kind='person']")
    people.nth(1).wait_for()
    assert people.count() == 2

    # a stale row: hal is already gone when the owner confirms: the error is shown and the list refreshed
    hal = _remove_button_of(owner, "guest-hal")
    assert owner.evaluate(REMOVE_BY_API, hal.get_attribute("data-user")) == 200
    hal.locator("[data-action='remove-person']").click()
    hal.locator("[data-action='confirm-remove-person']").click()
    owner.locator("#security-status[data-kind='error']", has_text="already gone").wait_for(timeout=5_000)
    hal.wait_for(state="detached", timeout=5_000)

    # gwen: the confirmation names her and what goes; then she is signed out and her next request refused
    gwen = _remove_button_of(owner, "guest-gwen")
    gwen.locator("[data-action='remove-person']").click()
    question = gwen.locator(".confirm-text").inner_text()
    assert question.startswith("Remove “guest-gwen”?")
    for what in ("browser sessions", "API keys", "share", "machine", "no undo"):
        assert what in question, what
    screenshot(owner, "people-remove-confirm-1440x900")
    gwen.locator("[data-action='confirm-remove-person']").click()
    owner.locator("#security-status", has_text="guest-gwen is removed").wait_for(timeout=5_000)
    gwen.wait_for(state="detached", timeout=5_000)
    assert people.count() == 0
    owner.locator("#people li.muted", has_text="Nobody else yet.").wait_for()
    assert owner.locator("#shares-mine .device[data-kind='share']").count() == 0, "her shares went with her"
    guest.locator("#signed-out").wait_for(state="visible", timeout=10_000)
    assert guest.evaluate("window.imcodes.link().state") == "signed_out"
    assert guest.request.get(f"{imcodes.url}/api/me").status == 401
    screenshot(owner, "people-removed-1440x900")
