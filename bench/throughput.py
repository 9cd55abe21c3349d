"""Output throughput: a pane printing ``seq 1 2000000`` (16.9 MB). Bytes per second that reach the browser, how
far the browser is behind tmux when the command ends, and whether the session's timeline kept being recorded;
beside the same command carried by tmux alone to a reader through ``pipe-pane`` (the baseline, which is how the daemon
reads a pane), in the same run. With a reset (the browser fell behind and got a fresh snapshot instead of the
backlog) fewer bytes reach the page than the pane printed: both rates are printed.

    .venv/bin/python -m bench.throughput [--count 2000000]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench.stack import running_stack, say, signed_in_page, start_shell

# Counts OUTPUT/SNAPSHOT/RESET bytes per binary kind and stamps the first output byte and the end marker.
PAGE_COUNTER = """
(() => {
  const Native = window.WebSocket;
  window.__flow = { bytes: 0, frames: 0, resets: 0, snapshots: 0, first: 0, done: 0, marker: null, tail: "" };
  const decoder = new TextDecoder();
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (typeof event.data === "string") return;
        const flow = window.__flow;
        const bytes = new Uint8Array(event.data);
        const kind = bytes[1];
        if (kind === 3) flow.resets += 1;
        if (kind === 2) flow.snapshots += 1;
        if (!flow.marker) return;
        const header = 4 + ((bytes[2] << 8) | bytes[3]);
        if (kind === 1) {
          if (!flow.first) flow.first = performance.timeOrigin + performance.now();
          flow.bytes += bytes.length - header;
          flow.frames += 1;
        }
        if (kind === 1 || kind === 2) {
          flow.tail = (flow.tail + decoder.decode(bytes.subarray(header))).slice(-4096);
          if (!flow.done && flow.tail.includes(flow.marker)) flow.done = performance.timeOrigin + performance.now();
        }
      });
    }
  };
})();
"""


def command_line(count: int, marker: str, stamp: Path) -> str:
    # The marker is built by printf so the echoed command line itself never contains it.
    return f"seq 1 {count}; date +%s.%N > {stamp}; printf '%s-%s\\n' {marker.split('-')[0]} {marker.split('-')[1]}"


def baseline(count: int) -> float:
    """Seconds for tmux alone to carry the output to a reader: ``pipe-pane`` into a FIFO, as the daemon reads it."""
    import os
    import threading

    socket = f"imcodes-bench-tp-{uuid.uuid4().hex[:8]}"
    folder = Path(tempfile.mkdtemp())
    fifo, stamp = folder / "out", folder / "done"
    os.mkfifo(fifo)
    marker = f"END-{uuid.uuid4().hex[:8]}"
    seen = threading.Event()

    def read() -> None:
        tail = b""
        with open(fifo, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 20):
                tail = (tail + chunk)[-4096:]
                if marker.encode() in tail:
                    seen.set()
                    return

    subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-s", "base", "-x", "120", "-y", "40"], check=True)
    try:
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        subprocess.run(["tmux", "-L", socket, "pipe-pane", "-O", "-t", "base", f"cat > {fifo}"], check=True)
        time.sleep(0.5)
        start = time.perf_counter()
        subprocess.run(["tmux", "-L", socket, "send-keys", "-t", "base", "-l", command_line(count, marker, stamp)])
        subprocess.run(["tmux", "-L", socket, "send-keys", "-t", "base", "Enter"], check=True)
        if not seen.wait(120):
            raise TimeoutError("tmux alone did not finish")
        return time.perf_counter() - start
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=False)


def protocol_chain(count: int) -> dict[str, float]:
    """The same run with a Python WebSocket client in place of Chromium (server <- daemon <- tmux only)."""
    import asyncio

    from bench.client import BrowserClient

    async def measure(url: str, link: str) -> dict[str, float]:
        client = BrowserClient(url)
        await client.sign_in(link)
        await client.connect()
        machine = client.machines[0]["machine"]
        folder = Path(tempfile.mkdtemp(prefix="bench-"))
        session = await client.start_shell(machine, str(folder), "bench")
        await client.request({"type": "terminal.subscribe", "machine": machine, "session": session})
        await asyncio.sleep(1)
        marker = f"END-{uuid.uuid4().hex[:8]}".encode()
        client.watch_for = marker
        before, start = client.binary_bytes, time.perf_counter()
        line = command_line(count, marker.decode(), folder / "done") + "\r"
        await client.request({"type": "terminal.input", "machine": machine, "session": session, "data": line})
        await asyncio.wait_for(client.marker_seen.wait(), 180)
        seconds = time.perf_counter() - start
        result = {"bytes": client.binary_bytes - before, "seconds": seconds, "resets": client.resets}
        await client.close()
        return result

    with running_stack() as stack:
        return asyncio.run(measure(stack.url, stack.link))


def chain(count: int) -> dict[str, float]:
    with running_stack() as stack, signed_in_page(stack, init_script=PAGE_COUNTER) as page:
        folder = Path(tempfile.mkdtemp(prefix="bench-"))
        session = start_shell(page, folder)
        machine = page.evaluate("window.imcodes.current()")["machine"]
        page.locator("#terminal").click()
        page.wait_for_timeout(500)
        stamp = folder / "done"
        marker = f"END-{uuid.uuid4().hex[:8]}"
        page.evaluate("(m) => { window.__flow.marker = m; }", marker)
        events_before = len(page.evaluate("([m, s]) => window.imcodes.timeline(m, s)", [machine, session]))
        page.keyboard.type(command_line(count, marker, stamp))
        page.keyboard.press("Enter")
        say(f"streaming seq 1 {count} to the browser")
        page.wait_for_function("() => window.__flow.done > 0", timeout=180_000, polling=50)
        flow = page.evaluate("() => window.__flow")
        tmux_done = float(stamp.read_text())
        page.wait_for_timeout(1500)  # let the coalesced output events of the end arrive
        events = page.evaluate("([m, s]) => window.imcodes.timeline(m, s)", [machine, session])
        outputs = [e for e in events[events_before:] if e.get("kind") == "output"]
        seconds = (flow["done"] - flow["first"]) / 1000
        return {
            "bytes": flow["bytes"],
            "seconds": seconds,
            "rate": flow["bytes"] / seconds if seconds > 0 else 0.0,
            "lag_ms": flow["done"] - tmux_done * 1000,
            "resets": flow["resets"],
            "frames": flow["frames"],
            "timeline_output_events": len(outputs),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2_000_000)
    args = parser.parse_args()
    total = sum(len(str(i)) + 2 for i in range(1, args.count + 1))  # the pty turns each \n into \r\n
    say(f"baseline: seq 1 {args.count} ({total / 1e6:.1f} MB) to a tmux control client alone")
    base_seconds = baseline(args.count)
    say("the chain with a protocol client in place of the browser")
    client = protocol_chain(args.count)
    result = chain(args.count)
    print()
    print(f"tmux alone (baseline):   {total / base_seconds / 1e6:6.1f} MB/s  ({base_seconds:.2f} s, pipe-pane)")
    print(
        f"chain to a protocol client: {total / client['seconds'] / 1e6:6.1f} MB/s of pane output "
        f"({client['bytes'] / 1e6:.1f} MB delivered in {client['seconds']:.2f} s, {int(client['resets'])} resets)"
    )
    print(
        f"chain to the browser:    {result['rate'] / 1e6:6.1f} MB/s  ({result['bytes'] / 1e6:.1f} MB in "
        f"{result['seconds']:.2f} s, {int(result['frames'])} frames, {int(result['resets'])} resets)"
    )
    print(f"browser behind tmux at the end: {result['lag_ms']:.0f} ms")
    print(f"timeline output events recorded while streaming: {int(result['timeline_output_events'])}")
    print(f"chain to the browser, pane output carried: {total / result['seconds'] / 1e6:6.1f} MB/s")
    print(f"ratio chain(browser)/baseline rate: {result['rate'] / (total / base_seconds):.2f}")
    print("targets: >= 15 MB/s, < 100 ms behind, timeline recorded")


if __name__ == "__main__":
    main()
