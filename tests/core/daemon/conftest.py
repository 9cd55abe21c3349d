"""Daemon test harness: a real daemon (in this process, or as a subprocess) on a private tmux socket, linked to
`Peer`, a small real WebSocket server that speaks the server side of LINK.md (auth, hello.ok with persisted
positions, commands with ids) and records everything the daemon sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.lifecycle import Daemon
from imcodes_core.host import make_plugin_host
from imcodes_core.protocol.binary import BinaryFrame, BinaryKind, decode_binary

MACHINE = "m-test0001"
TOKEN = "tok-" + "a" * 32


@dataclass
class Peer:
    token: str = TOKEN
    persisted: dict[str, list[int]] = field(default_factory=dict)
    connections: int = 0
    refused: int = 0
    hellos: list[dict[str, Any]] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    binary: list[BinaryFrame] = field(default_factory=list)
    ws: ServerConnection | None = None
    answer_pings: bool = True
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        if ws.request is None or ws.request.headers.get("Authorization") != f"Bearer {self.token}":
            self.refused += 1
            await ws.close(4401, "token refused")
            return
        self.hellos.append(json.loads(await ws.recv()))
        await ws.send(json.dumps({"v": 1, "type": "hello.ok", "server_version": "test", "persisted": self.persisted}))
        self.ws = ws
        self._arrived.set()
        try:
            async for raw in ws:
                if isinstance(raw, bytes):
                    self.binary.append(decode_binary(raw))
                else:
                    frame = json.loads(raw)
                    if frame["type"] == "ping" and self.answer_pings:
                        await ws.send(json.dumps({"v": 1, "type": "pong", "t": frame.get("t", 0)}))
                    self.frames.append(frame)
                self._arrived.set()
        except ConnectionClosed:
            pass
        finally:
            if self.ws is ws:
                self.ws = None

    async def wait_for(self, predicate: Callable[[], Any], within: float = 10.0, what: str = "") -> Any:
        deadline = time.monotonic() + within
        while True:
            self._arrived.clear()
            found = predicate()
            if found:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what or predicate}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.2))

    async def send_raw(self, raw: str | bytes) -> None:
        ws = await self.wait_for(lambda: self.ws, what="a daemon connection")
        await ws.send(raw)

    async def command(self, type_: str, within: float = 10.0, **fields: Any) -> dict[str, Any]:
        frame_id = f"c-{uuid.uuid4().hex[:12]}"
        await self.send_raw(json.dumps({"v": 1, "type": type_, "id": frame_id, **fields}))
        return await self.ack(frame_id, within)

    async def ack(self, frame_id: str, within: float = 10.0) -> dict[str, Any]:
        return await self.wait_for(lambda: self.find("ack", ref=frame_id), within, f"ack of {frame_id}")

    def find(self, type_: str, **match: Any) -> dict[str, Any] | None:
        for frame in self.frames:
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                return frame
        return None

    def events(self, session: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            f["event"]
            for f in self.frames
            if f["type"] == "timeline.event"
            and f["event"]["session"] == session
            and (kind is None or f["event"]["kind"] == kind)
        ]

    def output_after_snapshot(self, session: str) -> bytes:
        """The bytes the daemon streamed for `session` after its last snapshot (snapshot included)."""
        out = b""
        for frame in self.binary:
            if frame.stream != session:
                continue
            if frame.kind is BinaryKind.SNAPSHOT:
                out = frame.payload
            elif frame.kind is BinaryKind.OUTPUT:
                out += frame.payload
        return out


@dataclass
class Harness:
    peer: Peer
    server: Server
    home: Path
    port: int
    tmux_socket: str
    daemon: Daemon | None = None
    task: asyncio.Task[None] | None = None

    def write_link(self, token: str = TOKEN, machine: str = MACHINE) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        body = {"server": f"http://127.0.0.1:{self.port}", "token": token, "machine": machine}
        (self.home / "link.json").write_text(json.dumps(body))

    async def start_daemon(self, **overrides: Any) -> Daemon:
        config = DaemonConfig.create(self.home, **overrides)
        daemon = Daemon(config, make_plugin_host(load_entry_points=False))
        self.daemon = daemon
        self.task = asyncio.create_task(daemon.serve(install_signals=False))
        await asyncio.wait_for(daemon.started.wait(), 10)
        return daemon

    async def linked_daemon(self, **overrides: Any) -> Daemon:
        daemon = await self.start_daemon(**overrides)
        await asyncio.wait_for(daemon.link.connected.wait(), 10)
        await self.peer.wait_for(lambda: self.peer.find("sessions.sync"), what="sessions.sync")
        return daemon

    async def stop_daemon(self) -> None:
        if self.daemon is not None and self.task is not None:
            self.daemon.request_stop()
            await asyncio.wait_for(self.task, 15)
        self.daemon = self.task = None

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.tmux_socket, *args], capture_output=True, text=True, timeout=10, check=False
        )

    async def start_shell(self, folder: Path, label: str = "test") -> str:
        ack = await self.peer.command("session.start", driver="shell", cwd=str(folder), label=label)
        assert ack["ok"], ack
        return str(ack["result"]["session"]["name"])

    async def screen_shows(self, session: str, text: str, within: float = 10.0) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            screen = self.tmux("capture-pane", "-p", "-t", f"={session}:").stdout
            if text in screen:
                return screen
            await asyncio.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared in the pane:\n{screen}")


@pytest.fixture
async def harness(tmp_path: Path, tmux_socket: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    monkeypatch.setenv("SHELL", "/bin/bash")
    monkeypatch.setenv("HOME", str(tmp_path))  # an interactive bash reads no developer rc files
    peer = Peer()
    server = await serve(peer.handler, "127.0.0.1", 0, compression=None, max_size=None)
    port = next(iter(server.sockets)).getsockname()[1]
    h = Harness(peer, server, tmp_path / "home", port, tmux_socket)
    h.write_link()
    try:
        yield h
    finally:
        await h.stop_daemon()
        server.close()
        await server.wait_closed()


Waiter = Callable[[], Awaitable[None]]
