"""End-to-end fixtures: `imcodes up` in a subprocess (real embedded PostgreSQL, real server, real daemon on a
private tmux socket) and Debian's Chromium driven by Playwright.

- `imcodes` (function): a running stack in a temp IMCODES_HOME on a free loopback port; stopped with SIGINT (then
  killed if it hangs) and its tmux server killed at the end.
- `chromium` (module): the browser; `new_page(imcodes, width, height, signed_in=True)` opens a context per test.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    home: Path
    port: int
    tmux_socket: str
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    link: str = ""
    _reader: threading.Thread = field(default_factory=lambda: threading.Thread(target=lambda: None))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(IMCODES_HOME=str(self.home), IMCODES_TMUX_SOCKET=self.tmux_socket, PYTHONUNBUFFERED="1")
        env.pop("DATABASE_URL", None)
        return env

    def _command(self, name: str) -> list[str]:
        return [sys.executable, "-m", "imcodes_server", name, "--port", str(self.port), "--home", str(self.home)]

    def start(self, *extra: str) -> None:
        """Start `imcodes up` and wait for its sign-in link (a second start reuses the same data)."""
        self.process = subprocess.Popen(
            [*self._command("up"), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env(),
            start_new_session=True,  # its own process group, so a kill reaches the daemon and PostgreSQL children
        )
        self._reader = threading.Thread(target=self._pump, args=(self.process,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(r"(http://\S+/auth/link/\S+)", line)
                if found and "press Ctrl-C" in "".join(self.lines):
                    self.link = found.group(1)
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("imcodes up did not start:\n" + "".join(self.lines[-40:]))

    def _pump(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    def login_link(self) -> str:
        """A fresh one-time link (`imcodes login-link`) while the stack runs."""
        out = subprocess.run(
            self._command("login-link"),
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=60,
            check=True,
        ).stdout
        return re.search(r"(http://\S+/auth/link/\S+)", out).group(1)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._close_output()

    def kill9(self) -> None:
        """kill -9 the whole `imcodes up` process group (server, database and daemon children die with it)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._close_output()

    def _close_output(self) -> None:
        self._reader.join(10)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.tmux_socket, *args], capture_output=True, text=True, timeout=10, check=False
        )


@pytest.fixture
def imcodes(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(home=tmp_path / "home", port=free_port(), tmux_socket=f"imcodes-e2e-{uuid.uuid4().hex[:10]}")
    stack.home.mkdir()
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        stack.tmux("kill-server")


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(chromium: object) -> Iterator[Callable[..., object]]:
    contexts: list[object] = []

    def make(width: int = 1440, height: int = 900) -> object:
        context = chromium.new_context(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot() -> Callable[[object, str], Path]:
    """Save a screenshot under tests/e2e/artifacts/ (git-ignored) for a person to look at."""

    def take(page: object, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path))  # type: ignore[attr-defined]
        return path

    return take


@pytest.fixture
def full_stack() -> None:
    """Skip before anything starts when the bridge or the daemon has not landed."""
    for module in ("imcodes_server.bridge", "imcodes_core.daemon.__main__"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            pytest.skip(f"{module} is not in the tree yet")


@pytest.fixture
def start_shell(imcodes: Stack) -> Callable[[object, Path], str]:
    """Sign in through the one-time link and start a shell session from the dialog; returns its name."""

    def start(page: object, folder: Path) -> str:
        page.goto(imcodes.link)  # type: ignore[attr-defined]
        page.locator(".machine[data-online='true']").wait_for(timeout=30_000)  # type: ignore[attr-defined]
        assert page.locator("#connection").get_attribute("data-hop") == "ok"  # type: ignore[attr-defined]
        page.click("#new-session")  # type: ignore[attr-defined]
        page.select_option("#ns-driver", "shell")  # type: ignore[attr-defined]
        page.fill("#ns-cwd", str(folder))  # type: ignore[attr-defined]
        page.fill("#ns-label", "e2e shell")  # type: ignore[attr-defined]
        page.click("#ns-submit")  # type: ignore[attr-defined]
        page.locator("#terminal-wrap").wait_for(state="visible", timeout=30_000)  # type: ignore[attr-defined]
        current = page.evaluate("window.imcodes.current()")  # type: ignore[attr-defined]
        assert current is not None
        return str(current["session"])

    return start
