"""Sign-in through the one-time link, and a browser without sign-in refused everywhere (page, API, WebSocket)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.tmux, pytest.mark.slow]

WS_PROBE = """async (url) => new Promise((resolve) => {
  const ws = new WebSocket(url);
  let opened = false;
  const timer = setTimeout(() => resolve({opened, code: -1}), 8000);
  ws.onopen = () => { opened = true; };
  ws.onmessage = () => { opened = true; };
  ws.onclose = (e) => { clearTimeout(timer); resolve({opened, code: e.code}); };
})"""


def test_a_browser_without_sign_in_is_refused_everywhere(imcodes, new_context, screenshot) -> None:
    page = new_context().new_page()
    response = page.goto(imcodes.url + "/")
    assert response.status == 401
    assert "not signed in" in page.content()
    assert page.locator("#app").count() == 0, "the app shell is never served without a session"
    screenshot(page, "signed-out-1440x900")

    assert page.request.get(imcodes.url + "/api/me").status == 401
    ticket = page.request.post(imcodes.url + "/api/ws-ticket", headers={"Origin": imcodes.url})
    assert ticket.status in (401, 403)

    ws_url = imcodes.url.replace("http://", "ws://") + "/ws/client?ticket=not-a-ticket"
    probe = page.evaluate(WS_PROBE, ws_url)
    assert probe["opened"] is False, "no frame may reach a browser without a valid ticket"


def test_the_one_time_link_signs_in_once(imcodes, new_context) -> None:
    page = new_context().new_page()
    page.goto(imcodes.link)
    assert page.url.rstrip("/") == imcodes.url
    page.locator("#app").wait_for()
    assert page.request.get(imcodes.url + "/api/me").status == 200

    other = new_context().new_page()
    response = other.goto(imcodes.link)
    assert response.status in (401, 403, 404, 410) or "not signed in" in other.content().lower()
    assert other.locator("#app").count() == 0
    assert other.request.get(imcodes.url + "/api/me").status == 401
