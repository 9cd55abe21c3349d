"""A revoked daemon is disconnected within a second and cannot reconnect: real Hypercorn on loopback, the daemon as a
real `websockets` client, the revoke through the HTTP API with the owner's session and CSRF token."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from imcodes_server import auth, bridge
from imcodes_server.app import create_app
from imcodes_server.config import ServerConfig
from imcodes_server.models import Machine, User
from quart import Quart
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.postgres

CLOSE_UNAUTHORIZED = 4401


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def served(config: ServerConfig, database) -> AsyncIterator[tuple[Quart, int]]:
    port = _free_port()
    app = create_app(
        ServerConfig(host="127.0.0.1", port=port, data_dir=config.data_dir, secret_key=config.secret_key),
        database=database,
    )
    hypercorn_config = HypercornConfig()
    hypercorn_config.bind = [f"127.0.0.1:{port}"]
    hypercorn_config.accesslog = None
    hypercorn_config.graceful_timeout = 1.0
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, hypercorn_config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    for _ in range(200):
        if task.done():
            task.result()
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            if "imcodes_bridge" in app.extensions:
                break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the server did not start")
    try:
        yield app, port
    finally:
        await bridge.close_connections(app)
        stop.set()
        await asyncio.wait_for(task, 20)


async def _daemon(port: int, token: str, machine: str) -> ClientConnection:
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/daemon",
        additional_headers={"Authorization": f"Bearer {token}"},
        proxy=None,
        compression=None,
    )
    hello = {"v": 1, "type": "daemon.hello", "machine": machine, "hostname": "devbox", "version": "t"}
    with contextlib.suppress(ConnectionClosed):  # a refused token may be closed before the hello is sent
        await ws.send(json.dumps({**hello, "drivers": [{"name": "shell"}]}))
    return ws


async def _first_frame_or_close(ws: ClientConnection, within: float = 5.0) -> dict | int:
    """The first non-heartbeat JSON frame, or the close code if the server closes first."""
    try:
        async with asyncio.timeout(within):
            while True:
                raw = await ws.recv()
                if isinstance(raw, str) and json.loads(raw)["type"] not in ("ping", "pong"):
                    return dict(json.loads(raw))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code


async def _signed_in(app: Quart, name: str):
    user = await User.create(name=name, is_owner=name == "alice")
    client = app.test_client()
    assert (await client.get(f"/auth/link/{await auth.mint_login_link(user)}")).status_code == 302
    csrf = next(cookie.value for cookie in client.cookie_jar if cookie.name == auth.CSRF_COOKIE)
    return user, client, {"X-CSRF-Token": csrf}


async def test_revoked_daemon_is_disconnected_within_a_second_and_cannot_reconnect(served) -> None:
    app, port = served
    alice, alice_client, alice_csrf = await _signed_in(app, "alice")
    _, bob_client, bob_csrf = await _signed_in(app, "bob")
    token = await auth.pair_machine(alice, "m-alice", "alice-box")
    daemon = await _daemon(port, token, "m-alice")
    accepted = await _first_frame_or_close(daemon)
    assert isinstance(accepted, dict) and accepted["type"] == "hello.ok"

    url = "/api/machines/m-alice/revoke"
    assert (await app.test_client().post(url)).status_code == 401
    assert (await alice_client.post(url)).status_code == 403
    assert (await bob_client.post(url, headers=bob_csrf)).status_code == 404
    assert (await Machine.get(id="m-alice")).revoked_at is None

    started = time.monotonic()
    response = await alice_client.post(url, headers=alice_csrf)
    assert response.status_code == 200 and (await response.get_json())["disconnected"] is True
    assert await _first_frame_or_close(daemon, within=1.0) == CLOSE_UNAUTHORIZED
    assert time.monotonic() - started < 1.0

    again = await _daemon(port, token, "m-alice")
    assert await _first_frame_or_close(again, within=2.0) == CLOSE_UNAUTHORIZED
