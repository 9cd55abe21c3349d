"""The whole imcodes chain for a benchmark: ``imcodes up`` (embedded PostgreSQL, server, daemon on a private tmux
socket) in a temporary home, and Debian's Chromium signed in through the one-time link."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="imcodes-bench-"))
        self.port = free_port()
        self.tmux_socket = f"imcodes-bench-{uuid.uuid4().hex[:8]}"
        self.lines: list[str] = []
        self.link = ""
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ, IMCODES_HOME=str(self.home), IMCODES_TMUX_SOCKET=self.tmux_socket)
        env.pop("DATABASE_URL", None)
        return env

    def start(self) -> None:
        say("starting imcodes up (embedded PostgreSQL, server, daemon)")
        command = [sys.executable, "-m", "imcodes_server", "up", "--port", str(self.port), "--home", str(self.home)]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env(),
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            joined = "".join(self.lines)
            found = re.search(r"(http://\S+/auth/link/\S+)", joined)
            if found and "press Ctrl-C" in joined:
                self.link = found.group(1)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("imcodes up did not start:\n" + "".join(self.lines[-30:]))

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def pids(self, needle: bytes) -> list[int]:
        """Processes of this stack whose command line contains ``needle``."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
                environ = (proc / "environ").read_bytes()
            except OSError:
                continue
            if needle in cmdline and str(self.home).encode() in cmdline + environ:
                found.append(int(proc.name))
        return found

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.tmux_socket, *args], capture_output=True, text=True, timeout=10, check=False
        ).stdout

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.tmux("kill-server")
        shutil.rmtree(self.home, ignore_errors=True)


@contextmanager
def running_stack() -> Iterator[Stack]:
    stack = Stack()
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@contextmanager
def signed_in_page(stack: Stack, width: int = 1440, height: int = 900, init_script: str = "") -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": width, "height": height}).new_page()
            if init_script:
                page.add_init_script(init_script)
            page.goto(stack.link)
            page.locator(".machine[data-online='true']").wait_for(timeout=60_000)
            yield page
        finally:
            browser.close()


def start_shell(page: Any, folder: Path, label: str = "bench") -> str:
    """Start a shell session from the new-session dialog, as a person would; returns its tmux name."""
    page.click("#new-session")
    page.select_option("#ns-driver", "shell")
    page.fill("#ns-cwd", str(folder))
    page.fill("#ns-label", label)
    page.click("#ns-submit")
    page.locator("#terminal-wrap").wait_for(state="visible", timeout=30_000)
    current = page.evaluate("window.imcodes.current()")
    return str(current["session"])
