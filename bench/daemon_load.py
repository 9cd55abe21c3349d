"""Daemon cost at rest and under load, through the real chain (imcodes up, a protocol client like the browser):

- 20 idle shell sessions: CPU (share of one core, daemon plus its helper processes), wake-ups per second, RSS;
- one session streaming flat out for a minute while a viewer is subscribed: CPU, RSS over time (flat?), the
  timeline journal's size on disk (bounded?), and the server's CPU per 1,000 frames relayed.

    .venv/bin/python -m bench.daemon_load [--sessions 20] [--idle 30] [--stream 60]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.client import BrowserClient
from bench.procstat import descendants, sample
from bench.stack import running_stack, say


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


async def measure(args: argparse.Namespace) -> None:
    with running_stack() as stack:
        assert stack.process is not None
        client = BrowserClient(stack.url)
        await client.sign_in(stack.link)
        await client.connect()
        machine = client.machines[0]["machine"]
        folder = tempfile.mkdtemp(prefix="bench-load-")
        say(f"starting {args.sessions} shell sessions")
        names = [await client.start_shell(machine, folder, f"idle-{i}") for i in range(args.sessions)]
        daemon = next(p for p in descendants(stack.process.pid) if b"imcodes_core.daemon" in _cmdline(p))
        await asyncio.sleep(5)  # let start-up work (first state readings, sessions.json) settle

        pids = descendants(daemon)
        say(f"measuring the daemon at rest for {args.idle} s ({len(pids)} processes: daemon and helpers)")
        before, t0 = sample(pids), time.monotonic()
        await asyncio.sleep(args.idle)
        after, elapsed = sample(descendants(daemon)), time.monotonic() - t0
        idle_cpu = (after.cpu_seconds - before.cpu_seconds) / elapsed * 100
        wakeups = (after.switches - before.switches) / elapsed

        say(f"one session streaming flat out for {args.stream} s with a subscribed viewer")
        target = names[0]
        await client.request({"type": "terminal.subscribe", "machine": machine, "session": target})
        server_pid = stack.process.pid
        server_before, frames_before = sample([server_pid]), client.binary_frames
        daemon_before, t1 = sample(descendants(daemon)), time.monotonic()
        loop = f"timeout {args.stream} sh -c 'while :; do seq 1 100000; done'\r"
        await client.request({"type": "terminal.input", "machine": machine, "session": target, "data": loop})
        rss_series = []
        journal = stack.home / "daemon"
        for _ in range(args.stream // 5):
            await asyncio.sleep(5)
            rss_series.append(sample([daemon]).rss_bytes)
        await asyncio.sleep(2)
        daemon_after, stream_elapsed = sample(descendants(daemon)), time.monotonic() - t1
        server_after, frames = sample([server_pid]), client.binary_frames - frames_before
        stream_cpu = (daemon_after.cpu_seconds - daemon_before.cpu_seconds) / stream_elapsed * 100
        server_cpu_ms = (server_after.cpu_seconds - server_before.cpu_seconds) * 1000
        await client.close()

        print()
        print(
            f"idle, {args.sessions} sessions: daemon+helpers CPU {idle_cpu:.3f}% of one core, "
            f"{wakeups:.1f} wake-ups/s, RSS {after.rss_bytes / 2**20:.1f} MiB "
            f"(daemon alone {sample([daemon]).rss_bytes / 2**20:.1f} MiB)"
        )
        print(
            f"streaming: daemon+helpers CPU {stream_cpu:.1f}% of one core; daemon RSS every 5 s (MiB): "
            + " ".join(f"{r / 2**20:.0f}" for r in rss_series)
        )
        print(f"timeline journal on disk after the minute: {du(journal) / 2**20:.1f} MiB")
        print(
            f"server: {frames} binary frames relayed ({client.binary_bytes / 1e6:.0f} MB, {client.resets} resets),"
            f" {server_cpu_ms / max(frames, 1) * 1000:.0f} ms CPU per 1,000 frames"
        )
        print("targets: idle < 0.5% and no timer wake-ups, < 60 MB; streaming < 25%, memory flat, storage bounded")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--idle", type=int, default=30)
    parser.add_argument("--stream", type=int, default=60)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
