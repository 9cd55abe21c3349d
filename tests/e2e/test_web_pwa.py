"""The PWA: the service worker caches the app shell, so the page starts offline and says which hop is down; API
and WebSocket traffic is never cached."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.tmux, pytest.mark.slow]

CACHED_URLS = """async () => {
  const urls = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) urls.push(new URL(request.url).pathname);
  }
  return urls;
}"""


def test_the_shell_starts_offline_and_says_the_browser_server_hop_is_down(imcodes, new_context, screenshot) -> None:
    context = new_context(390, 844)
    page = context.new_page()
    page.goto(imcodes.link)
    page.locator("#app").wait_for()
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.active !== null)") is True
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=10_000)
    page.wait_for_function(f"async () => (await ({CACHED_URLS})()).includes('/static/js/app.js')", timeout=10_000)
    cached = page.evaluate(CACHED_URLS)
    assert "/" in cached and "/static/vendor/xterm/xterm.mjs" in cached
    assert not [url for url in cached if url.startswith(("/api", "/ws", "/auth"))]

    context.set_offline(True)
    page.reload()
    page.locator("#app").wait_for(timeout=10_000)
    page.wait_for_function(
        "() => document.querySelector('#connection').dataset.hop === 'browser-server'", timeout=15_000
    )
    assert "browser–server down" in page.locator("#connection-text").text_content()
    screenshot(page, "offline-390x844")
    context.set_offline(False)
