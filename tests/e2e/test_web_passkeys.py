"""Passkeys in real Chromium with its virtual WebAuthn authenticator (CDP): add a passkey in Devices & security, sign
out, sign in with it from the sign-in page, the session works; once the passkey is removed on the server, signing in
with the credential the authenticator still holds fails with a message that says what to do.

WebAuthn refuses an IP address as the relying party id, so this stack is opened as http://localhost:PORT
(IMCODES_PUBLIC_ORIGIN), which browsers treat as a secure context; the server's exact-Origin rule is unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.tmux, pytest.mark.slow]


@pytest.fixture
def localhost_stack(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    conftest = next(
        plugin
        for plugin in request.config.pluginmanager.get_plugins()
        if str(getattr(plugin, "__file__", "")).endswith(str(Path("e2e") / "conftest.py"))
    )
    stack = conftest.Stack(
        home=tmp_path / "home", port=conftest.free_port(), tmux_socket=f"imcodes-e2e-{uuid.uuid4().hex[:10]}"
    )
    stack.home.mkdir()
    monkeypatch.setenv("IMCODES_PUBLIC_ORIGIN", f"http://localhost:{stack.port}")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        stack.tmux("kill-server")


def _open_security(page) -> None:
    page.click("#open-security")
    page.locator("#security-dialog[open]").wait_for()
    page.locator("#security-passkeys li").first.wait_for()


def _sign_out_everywhere(page) -> None:
    page.click("#logout-everywhere")
    page.click("#logout-everywhere")  # the second click confirms
    page.locator("#passkey-sign-in").wait_for(state="visible")


def test_register_sign_out_sign_in_with_a_passkey(localhost_stack, new_context, screenshot) -> None:
    stack = localhost_stack
    assert stack.link.startswith(f"http://localhost:{stack.port}/auth/link/")
    page = new_context(1440, 900).new_page()
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )["authenticatorId"]

    page.goto(stack.link)
    page.locator("#open-security").wait_for()
    _open_security(page)
    assert "No passkey yet" in page.locator("#security-passkeys").inner_text()
    assert page.locator("#add-passkey").is_enabled()
    page.click("#add-passkey")
    row = page.locator("#security-passkeys .device[data-kind='passkey']")
    row.wait_for()
    assert row.count() == 1
    assert "Passkey" in page.locator("#security-status").inner_text()
    held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(held) == 1 and held[0]["isResidentCredential"] is True
    screenshot(page, "passkeys-added-1440x900")

    _sign_out_everywhere(page)
    assert page.evaluate("fetch('/api/me').then((r) => r.status)") == 401
    page.click("#passkey-sign-in")
    page.locator("#open-security").wait_for()
    me = page.evaluate("fetch('/api/me').then((r) => r.json())")
    assert me["user"]["owner"] is True
    # The new session is a full one: a CSRF-protected POST works with it.
    status = page.evaluate(
        """fetch('/api/ws-ticket', {method: 'POST', headers: {'X-CSRF-Token':
            document.cookie.split('; ').find((c) => c.startsWith('imcodes_csrf=')).split('=')[1]}})
            .then((r) => r.status)"""
    )
    assert status == 200
    _open_security(page)
    assert "last used just now" in row.inner_text()
    assert cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"][0]["signCount"] >= 1

    # Remove it on the server; the authenticator still holds the credential, but it no longer signs in.
    row.locator("[data-action='remove-passkey']").click()
    row.locator("[data-action='confirm-remove-passkey']").click()
    page.locator("#security-passkeys .muted").wait_for()
    _sign_out_everywhere(page)
    page.click("#passkey-sign-in")
    message = page.locator("#passkey-status[data-kind='error']")
    message.wait_for()
    assert "not registered on this server" in message.inner_text()
    assert "imcodes login-link" in message.inner_text()
    assert page.evaluate("fetch('/api/me').then((r) => r.status)") == 401
    screenshot(page, "passkeys-removed-sign-in-1440x900")
