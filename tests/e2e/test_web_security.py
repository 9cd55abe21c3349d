"""The Devices & security dialog in real Chromium: browsers and machines listed, a pairing code with its command,
TOTP enrolment with a code computed from the shown secret, recovery codes shown once, revoking another browser."""

from __future__ import annotations

import re

import pyotp
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.tmux, pytest.mark.slow]


def _open_panel(page, *, phone: bool = False) -> None:
    if phone:
        page.click("#sidebar-toggle")
    page.click("#open-security")
    page.locator("#security-dialog[open]").wait_for()
    page.locator("#security-browsers .device").first.wait_for()
    page.locator("#security-totp p").first.wait_for()


def test_devices_pairing_and_totp_enrolment(imcodes, new_context, screenshot) -> None:
    desktop = new_context(1440, 900).new_page()
    desktop.goto(imcodes.link)
    desktop.locator(".machine[data-online='true']").wait_for(timeout=30_000)

    phone = new_context(390, 844).new_page()
    phone.goto(imcodes.login_link())
    phone.locator(".machine[data-online='true']").wait_for(timeout=30_000)

    # the phone: both browsers listed, this one marked current; the local machine online; a pairing code
    _open_panel(phone, phone=True)
    assert phone.locator("#security-browsers .device").count() == 2
    current = phone.locator("#security-browsers .device[data-current='true']")
    assert current.count() == 1
    assert "this browser" in current.inner_text()
    assert "last used" in current.inner_text()
    machine = phone.locator("#security-machines .device[data-kind='machine']")
    assert machine.count() == 1
    assert machine.get_attribute("data-state") == "online"
    phone.click("#pair-machine")
    command = phone.locator("#pair-command")
    command.wait_for()
    code = phone.locator("#pair-code").inner_text()
    assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", code)
    assert command.inner_text() == f"imcodes bind {imcodes.url} --code {code}"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "nothing overflows sideways on a phone"
    screenshot(phone, "security-390x844")

    # the desktop: enrol TOTP; a wrong code is explained, the right one shows the recovery codes once
    _open_panel(desktop)
    assert desktop.locator("#security-totp").get_attribute("data-enrolled") == "false"
    desktop.click("#totp-enrol")
    secret = desktop.locator("#totp-secret").get_attribute("data-secret")
    assert secret and desktop.locator("#totp-uri").inner_text().startswith("otpauth://totp/")
    assert f"secret={secret}" in desktop.locator("#totp-uri").inner_text()
    totp = pyotp.TOTP(secret)
    right = totp.now()
    desktop.fill("#totp-confirm-code", "000000" if right != "000000" else "111111")
    desktop.press("#totp-confirm-code", "Enter")
    desktop.locator("#security-status[data-kind='error']").wait_for()
    assert "does not match" in desktop.locator("#security-status").inner_text()
    desktop.fill("#totp-confirm-code", right)
    desktop.press("#totp-confirm-code", "Enter")
    codes = desktop.locator("#recovery-codes li")
    codes.first.wait_for()
    assert codes.count() == 10
    assert "shown only this once" in desktop.locator("#security-totp").inner_text()
    screenshot(desktop, "security-totp-recovery-1440x900")
    desktop.click("#recovery-saved")
    desktop.locator("#security-totp[data-enrolled='true']").wait_for()
    assert "10 recovery codes left" in desktop.locator("#security-totp").inner_text()
    assert desktop.locator("#recovery-codes").count() == 0
    desktop.click("#security-close")
    _open_panel(desktop)
    desktop.locator("#security-totp[data-enrolled='true']").wait_for()
    assert desktop.locator("#recovery-codes").count() == 0, "recovery codes are shown once, never again"
    screenshot(desktop, "security-1440x900")

    # revoke the phone from the desktop (confirmed in place): the phone is signed out at once
    other = desktop.locator("#security-browsers .device[data-current='false']")
    assert other.count() == 1
    other.locator("[data-action='revoke']").click()
    other.locator("[data-action='confirm-revoke']").click()
    desktop.locator("#security-browsers .device[data-current='false']").wait_for(state="detached")
    assert desktop.locator("#security-browsers .device").count() == 1
    assert phone.request.get(imcodes.url + "/api/me").status == 401
    assert desktop.request.get(imcodes.url + "/api/me").status == 200

    # sign out everywhere asks once more, then this browser is signed out too
    desktop.click("#logout-everywhere")
    assert "Click again to confirm" in desktop.locator("#security-status").inner_text()
    assert desktop.request.get(imcodes.url + "/api/me").status == 200, "the first click only asks"
    with desktop.expect_navigation():
        desktop.click("#logout-everywhere")
    assert desktop.request.get(imcodes.url + "/api/me").status == 401
    assert desktop.locator("#app").count() == 0
