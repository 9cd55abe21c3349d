"""The chat view: switch an open session to Chat, send a prompt from the box, see it delivered and in the chat,
with the state separators; typed terminal lines show there too. The scripted fake agent has no driver the
`imcodes up` stack can load (it registers entry points only), so this runs the shell driver; the fake agent's
prompt, permission and interrupt paths are covered against the real daemon in tests/core/daemon/test_agent_io.py.
Real PostgreSQL, server, daemon, tmux and Chromium."""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.tmux, pytest.mark.slow]


def test_send_a_prompt_from_the_chat_and_see_it(
    full_stack, imcodes, new_context, screenshot, start_shell, tmp_path
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    page = new_context(1440, 900).new_page()
    session = start_shell(page, folder)

    page.click("#show-chat")
    page.locator("#chat-wrap").wait_for(state="visible")
    assert page.locator("#terminal-wrap").is_hidden()
    assert page.get_attribute("#show-chat", "aria-pressed") == "true"
    page.locator(".chat-state.state-idle").first.wait_for(timeout=20_000)  # the state separator, with its reason
    assert page.locator(".chat-state.state-idle .chat-state-reason").first.text_content()

    token = f"chat-{uuid.uuid4().hex[:10]}"
    page.fill("#chat-input", f"echo {token}")
    page.press("#chat-input", "Enter")
    page.locator(".chat-user", has_text=f"echo {token}").wait_for(timeout=20_000)
    page.wait_for_function("() => document.querySelector('#chat-input').value === ''", timeout=10_000)
    assert page.locator("#chat-error").is_hidden()
    pane = imcodes.tmux("capture-pane", "-p", "-t", session).stdout
    assert token in pane.splitlines(), "the prompt was submitted to the real pane and ran"
    kinds = page.evaluate(
        "([m, s]) => window.imcodes.timeline(m, s).map((e) => e.kind)",
        [page.evaluate("window.imcodes.current()")["machine"], session],
    )
    assert "user.prompt" in kinds
    screenshot(page, "chat-1440x900")

    # a line typed in the terminal shows in the chat as well (the `input` event)
    page.click("#show-terminal")
    page.locator("#terminal-wrap").wait_for(state="visible")
    page.locator("#terminal").click()
    typed = f"typed-{uuid.uuid4().hex[:8]}"
    page.keyboard.type(f"echo {typed}")
    page.keyboard.press("Enter")
    page.click("#show-chat")
    page.locator(".chat-user.chat-typed", has_text=f"echo {typed}").wait_for(timeout=20_000)

    # phone size: the chat and its prompt box fit the width; the mode is remembered after a reload
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(400)
    box = page.locator("#chat-input").bounding_box()
    send = page.locator("#chat-send").bounding_box()
    assert box is not None and send is not None and send["x"] + send["width"] <= 390 and box["width"] >= 200
    phone = f"phone-{uuid.uuid4().hex[:8]}"
    page.fill("#chat-input", f"echo {phone}")
    page.click("#chat-send")
    page.locator(".chat-user", has_text=f"echo {phone}").wait_for(timeout=20_000)
    screenshot(page, "chat-390x844")
    page.reload()
    page.locator("#chat-wrap").wait_for(state="visible", timeout=30_000)
    page.locator(".chat-user", has_text=f"echo {phone}").wait_for(timeout=20_000)
