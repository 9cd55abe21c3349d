"""Keystroke-to-screen latency through the whole chain (browser <- server <- daemon <- tmux) beside the same
keystroke's round trip through tmux alone, measured in the same run.

    .venv/bin/python -m bench.keystroke_latency [--keys 200]

Chain times start at the browser's keydown event (in the page, so Playwright's own overhead is not counted) and
end (a) when the WebSocket frame with the echoed byte arrives in the page and (b) when xterm.js has painted it
into the DOM (this includes waiting for the browser's next animation frame, which no terminal can skip).
The baseline sends the same key with ``send-keys`` through a tmux control client and waits for ``%output``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.stack import running_stack, say, signed_in_page, start_shell
from bench.stats import histogram, summary
from bench.tmux_control import ControlClient

KEY = "q"
CLEAR_EVERY = 40  # Ctrl-U now and then so the line never wraps

# Stamps every keydown and resolves the armed waiter on the next terminal OUTPUT frame and the next paint.
PAGE_PROBE = """
(() => {
  const Native = window.WebSocket;
  window.__probe = { down: 0, ws: 0, paint: 0 };
  document.addEventListener("keydown", () => {
    window.__probe = { down: performance.now(), ws: 0, paint: 0 };
  }, true);
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (typeof event.data === "string") return;
        const bytes = new Uint8Array(event.data);
        if (bytes[1] === 1 && window.__probe.down && !window.__probe.ws) window.__probe.ws = performance.now();
      });
    }
  };
  new MutationObserver(() => {
    if (window.__probe.down && window.__probe.ws && !window.__probe.paint) window.__probe.paint = performance.now();
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();
"""


def chain(keys: int) -> tuple[list[float], list[float]]:
    to_ws: list[float] = []
    to_paint: list[float] = []
    with running_stack() as stack, signed_in_page(stack, init_script=PAGE_PROBE) as page:
        folder = Path(tempfile.mkdtemp(prefix="bench-"))
        start_shell(page, folder)
        page.locator("#terminal").click()
        page.wait_for_timeout(500)
        say(f"typing {keys} keystrokes in the browser")
        for i in range(keys):
            if i and i % CLEAR_EVERY == 0:
                page.keyboard.press("Control+U")
                page.wait_for_timeout(100)
            page.keyboard.press(KEY)
            page.wait_for_function("() => window.__probe.paint > 0", timeout=10_000, polling="raf")
            probe = page.evaluate("() => window.__probe")
            to_ws.append(probe["ws"] - probe["down"])
            to_paint.append(probe["paint"] - probe["down"])
    return to_ws, to_paint


def protocol_chain(keys: int) -> list[float]:
    """The same chain with a Python WebSocket client in place of Chromium (server <- daemon <- tmux only)."""
    import asyncio

    from bench.client import BrowserClient
    from bench.stack import running_stack

    async def measure(url: str, link: str) -> list[float]:
        client = BrowserClient(url)
        await client.sign_in(link)
        await client.connect()
        machine = client.machines[0]["machine"]
        session = await client.start_shell(machine, tempfile.mkdtemp(prefix="bench-"), "bench")
        await client.request({"type": "terminal.subscribe", "machine": machine, "session": session})
        await asyncio.sleep(1)
        times = []
        for i in range(keys):
            data = "\x15" if i and i % CLEAR_EVERY == 0 else KEY
            client.output_seen.clear()
            start = time.perf_counter()
            answer = asyncio.ensure_future(
                client.request({"type": "terminal.input", "machine": machine, "session": session, "data": data})
            )
            await asyncio.wait_for(client.output_seen.wait(), 10)
            if data == KEY:
                times.append((time.perf_counter() - start) * 1000)
            await answer
            await asyncio.sleep(0.01)
        await client.close()
        return times

    with running_stack() as stack:
        return asyncio.run(measure(stack.url, stack.link))


def baseline(keys: int) -> list[float]:
    import subprocess
    import uuid

    socket = f"imcodes-bench-base-{uuid.uuid4().hex[:8]}"
    subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-s", "base", "-x", "120", "-y", "40"], check=True)
    client = ControlClient(socket, "base")
    try:
        time.sleep(0.5)
        times = []
        for i in range(keys):
            if i and i % CLEAR_EVERY == 0:
                client.command("send-keys -t base C-u")
                time.sleep(0.1)
            start = time.perf_counter()
            client.command(f"send-keys -t base -l {KEY}")
            seen = client.read_until(KEY.encode())
            times.append((seen - start) * 1000)
        return times
    finally:
        client.close()
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=200)
    args = parser.parse_args()
    say("baseline: the same keystroke through tmux alone (control client)")
    base = baseline(args.keys)
    say("the chain with a protocol client in place of the browser")
    to_client = protocol_chain(args.keys)
    to_ws, to_paint = chain(args.keys)
    print()
    print(summary("tmux alone (baseline)", base))
    print(summary("chain: protocol client", to_client))
    print(summary("chain: keydown -> ws echo", to_ws))
    print(summary("chain: keydown -> painted", to_paint))
    print()
    print("keydown -> painted, histogram:")
    print(histogram(to_paint))
    print()
    base_p50 = sorted(base)[len(base) // 2]
    print(f"ratio p50 chain(ws)/baseline: {sorted(to_ws)[len(to_ws) // 2] / base_p50:.1f}x")
    print(f"ratio p50 chain(protocol client)/baseline: {sorted(to_client)[len(to_client) // 2] / base_p50:.1f}x")
    print("targets: p50 <= 5 ms, p99 <= 20 ms (chain, loopback)")


if __name__ == "__main__":
    main()
