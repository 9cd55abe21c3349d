"""`imcodes up --no-daemon` as a real subprocess: serve, sign in through the printed link, Ctrl-C, run again."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from imcodes_web import static_dir

pytestmark = pytest.mark.postgres

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/auth/link/[A-Za-z0-9_-]+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Up:
    """One `imcodes up` child whose output is collected by a reader thread."""

    def __init__(self, home: Path, port: int, *, daemon: bool = False, tmux_socket: str = "") -> None:
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        env["IMCODES_HOME"] = str(home)
        if tmux_socket:
            env["IMCODES_TMUX_SOCKET"] = tmux_socket
        self.lines: list[str] = []
        flags = [] if daemon else ["--no-daemon"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imcodes_server", "up", *flags, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for_link(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := LINK.search(line):
                    return match.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("no sign-in link printed:\n" + "".join(self.lines))

    def stop(self, timeout: float = 30.0) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


def wait_for_health(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
                if json.load(response) == {"ok": True}:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server never became healthy")


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid: int) -> bool:
    """Running and not a zombie (an exited postmaster is reparented and may wait to be reaped)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def sign_in_and_get_index(link: str, port: int) -> str:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(link, timeout=10) as response:  # follows the redirect to / with the new cookie
        assert response.url == f"http://127.0.0.1:{port}/"
        return response.read().decode()


def login_link_while_running(home: Path, port: int) -> str:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["IMCODES_HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "imcodes_server", "login-link"],  # finds the running server's port itself
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    match = LINK.fullmatch(done.stdout.strip())
    assert match, done.stdout + done.stderr
    return match.group(1)


def test_up_serves_signs_in_stops_cleanly_and_reuses_data(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pgdata = home / "server" / "postgres"
    port = free_port()
    first = Up(home, port)
    try:
        link = first.wait_for_link()
        wait_for_health(port)
        page = sign_in_and_get_index(link, port)
        assert page == (static_dir() / "index.html").read_text("utf-8")
        with pytest.raises(urllib.error.HTTPError) as reused:
            sign_in_and_get_index(link, port)
        assert reused.value.code == 403
        reused.value.close()
        pid = postmaster_pid(pgdata)
        assert pid is not None and process_alive(pid)
        minted = login_link_while_running(home, port)
        assert minted != link
        assert sign_in_and_get_index(minted, port) == (static_dir() / "index.html").read_text("utf-8")
        assert process_alive(pid), "login-link stopped the PostgreSQL that imcodes up is using"
        link_file = home / "link.json"
        assert link_file.stat().st_mode & 0o777 == 0o600
        paired = json.loads(link_file.read_text())
        assert paired["server"] == f"http://127.0.0.1:{port}" and paired["token"] and paired["machine"]
    finally:
        started = time.monotonic()
        assert first.stop() == 0, "".join(first.lines)
    assert time.monotonic() - started < 30
    assert "initialising the database" in "".join(first.lines)
    assert not process_alive(pid), "PostgreSQL still running after Ctrl-C"
    assert not (home / "server" / "endpoint.json").exists()
    assert postmaster_pid(pgdata) is None

    second = Up(home, port)
    try:
        link = second.wait_for_link()
        wait_for_health(port)
        assert sign_in_and_get_index(link, port) == (static_dir() / "index.html").read_text("utf-8")
        again = json.loads((home / "link.json").read_text())
        assert again["machine"] == paired["machine"] and again["token"] != paired["token"]
    finally:
        assert second.stop() == 0, "".join(second.lines)
    output = "".join(second.lines)
    assert "initialising the database" not in output and "Traceback" not in output
    assert paired["token"] not in "".join(first.lines) + output  # the daemon token is never printed


def test_up_runs_the_local_daemon_as_a_child_and_stops_it_first(tmp_path: Path) -> None:
    from imcodes_server.launcher import daemon_available

    socket_name = f"imcodes-up-test-{os.getpid()}"
    port = free_port()
    up = Up(tmp_path / "home", port, daemon=True, tmux_socket=socket_name)
    children: list[psutil.Process] = []
    try:
        up.wait_for_link()
        wait_for_health(port)
        if daemon_available():
            deadline = time.monotonic() + 20
            while not children and time.monotonic() < deadline:
                children = [
                    child
                    for child in psutil.Process(up.process.pid).children()
                    if "imcodes_core.daemon" in " ".join(child.cmdline())
                ]
                time.sleep(0.1)
            assert children, "no daemon child:\n" + "".join(up.lines)
        else:
            deadline = time.monotonic() + 10
            while "not installed yet" not in "".join(up.lines) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "not installed yet: serving without it" in "".join(up.lines)
    finally:
        code = up.stop()
        subprocess.run(["tmux", "-L", socket_name, "kill-server"], capture_output=True, check=False)
    assert code == 0, "".join(up.lines)
    assert all(not process_alive(child.pid) for child in children)
