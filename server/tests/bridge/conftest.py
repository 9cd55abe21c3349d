"""Bridge fixtures: the app served by a real Hypercorn on loopback, daemons and browsers as real `websockets` clients.

- `bridge_settings` (dict): app.config overrides (heartbeat, retry interval...) a test may change before `served`.
- `served`: the running server (`.app`, `.ws_url`, `.origin`, `.hub`).
- `peers`: factory helpers: `user()`, `machine(user)`, `daemon(token)`, `browser(user)`, `next_frame(ws, type)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from imcodes_server import auth, bridge, db
from imcodes_server.app import create_app
from imcodes_server.config import ServerConfig
from imcodes_server.models import User
from quart import Quart
from websockets.asyncio.client import ClientConnection, connect

pytestmark = pytest.mark.postgres

FAST = {
    "IMCODES_BRIDGE_HEARTBEAT": 15.0,
    "IMCODES_BRIDGE_RETRY_INTERVAL": 8.0,
    "IMCODES_BRIDGE_MAX_RETRIES": 5,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    app: Quart
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hub(self) -> bridge.Hub:
        return bridge.hub_of(self.app)


@pytest.fixture
def bridge_settings() -> dict[str, Any]:
    return dict(FAST)


@pytest.fixture
async def served(
    config: ServerConfig, database: db.PgTarget, bridge_settings: dict[str, Any]
) -> AsyncIterator[Served]:
    port = _free_port()
    server_config = ServerConfig(host="127.0.0.1", port=port, data_dir=config.data_dir, secret_key=config.secret_key)
    app = create_app(server_config, database=database)
    app.config.update(bridge_settings)
    hypercorn_config = HypercornConfig()
    hypercorn_config.bind = [f"127.0.0.1:{port}"]
    hypercorn_config.accesslog = None
    hypercorn_config.graceful_timeout = 1.0
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, hypercorn_config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    for _ in range(200):
        if "imcodes_bridge" in app.extensions:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                break
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the server did not start")
    try:
        yield Served(app, port)
    finally:
        await bridge.close_connections(app)
        stop.set()
        await asyncio.wait_for(task, 20)


async def next_frame(ws: ClientConnection, kind: str | None = None, *, within: float = 5.0) -> dict[str, Any]:
    """The next JSON frame (of `kind`, skipping others and heartbeats); binary frames are skipped too."""
    async with asyncio.timeout(within):
        while True:
            raw = await ws.recv()
            if isinstance(raw, bytes):
                continue
            frame = json.loads(raw)
            if frame["type"] in ("ping", "pong") and kind not in ("ping", "pong"):
                continue
            if kind is None or frame["type"] == kind:
                return dict(frame)


async def silent(ws: ClientConnection, seconds: float = 0.3) -> list[Any]:
    """Everything (other than heartbeats) that arrives within `seconds`: for asserting that nothing came."""
    got: list[Any] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                raw = await ws.recv()
                if isinstance(raw, str) and json.loads(raw)["type"] in ("ping", "pong"):
                    continue
                got.append(raw)
    return got


def frame(kind: str, **fields: Any) -> str:
    return json.dumps({"v": 1, "type": kind, **fields})


def session_info(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "driver": "shell", "label": name, "cwd": "/tmp", "state": "idle", **extra}


def event(session: str, seq: int, epoch: int = 1, kind: str = "output") -> dict[str, Any]:
    return {"session": session, "epoch": epoch, "seq": seq, "at": 1.0 + seq, "kind": kind, "data": {"n": seq}}


@dataclass
class Peers:
    served: Served
    _open: list[ClientConnection] = field(default_factory=list)
    # the wire helpers, reachable from test modules through the fixture
    next_frame = staticmethod(next_frame)
    silent = staticmethod(silent)
    frame = staticmethod(frame)
    session_info = staticmethod(session_info)
    event = staticmethod(event)

    async def user(self, name: str = "owner") -> User:
        return await User.create(name=name, is_owner=name == "owner")

    async def machine(self, user: User, machine_id: str | None = None) -> tuple[str, str]:
        machine_id = machine_id or f"m-{uuid.uuid4().hex[:8]}"
        return machine_id, await auth.pair_machine(user, machine_id, "host-" + machine_id)

    async def connect_daemon(self, token: str) -> ClientConnection:
        ws = await connect(
            self.served.ws_url + "/ws/daemon",
            additional_headers={"Authorization": f"Bearer {token}"} if token else None,
            proxy=None,
            compression=None,
            max_size=None,
        )
        self._open.append(ws)
        return ws

    async def daemon(
        self, token: str, machine: str, sessions: list[dict[str, Any]] | None = None
    ) -> tuple[ClientConnection, dict[str, Any]]:
        """A daemon that said hello and synced `sessions`; returns (socket, hello.ok)."""
        ws = await self.connect_daemon(token)
        await ws.send(
            frame("daemon.hello", machine=machine, hostname="devbox", version="t", drivers=[{"name": "shell"}])
        )
        ok = await next_frame(ws, "hello.ok")
        await ws.send(frame("sessions.sync", sessions=sessions or []))
        return ws, ok

    async def browser(
        self, user: User, *, max_queue: int = 64, close_timeout: float = 10.0
    ) -> tuple[ClientConnection, dict[str, Any]]:
        """A signed-in browser; returns (socket, its first `machines` frame)."""
        ticket = await auth.mint_ws_ticket(user)
        ws = await connect(
            f"{self.served.ws_url}/ws/client?ticket={ticket}",
            origin=self.served.origin,  # type: ignore[arg-type]
            proxy=None,
            compression=None,
            max_size=None,
            max_queue=max_queue,
            close_timeout=close_timeout,
        )
        self._open.append(ws)
        machines = await next_frame(ws)
        assert machines["type"] == "machines"
        return ws, machines

    async def close(self) -> None:
        for ws in self._open:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)


@pytest.fixture
async def peers(served: Served) -> AsyncIterator[Peers]:
    made = Peers(served)
    try:
        yield made
    finally:
        await made.close()
