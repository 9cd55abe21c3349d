"""The bridge's per-app state: one daemon link per machine, the browsers of each user, terminal subscriptions, and
the background loops (heartbeats, command retries). Lives in `app.extensions["imcodes_bridge"]`; no globals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from imcodes_core.protocol.binary import MAX_BINARY_PAYLOAD, MAX_STREAM_NAME, BinaryKind, decode_binary, encode_binary
from imcodes_core.protocol.frames import LinkStatus, Ping, encode_frame
from imcodes_server.bridge import store
from imcodes_server.bridge.commands import Commands
from imcodes_server.bridge.links import (
    CLOSE_GOING_AWAY,
    CLOSE_REPLACED,
    CLOSE_TIMEOUT,
    CLOSE_UNAUTHORIZED,
    BrowserLink,
    DaemonLink,
    Link,
)

_logger = logging.getLogger("imcodes.server.bridge")

EXTENSION = "imcodes_bridge"


class Hub:
    def __init__(
        self,
        *,
        heartbeat: float = 15.0,
        retry_interval: float = 8.0,
        max_retries: int = 5,
        viewer_bytes: int = 4 * 1024 * 1024,
        hello_timeout: float = 10.0,
    ) -> None:
        self.heartbeat = heartbeat
        self.viewer_bytes = viewer_bytes
        self.hello_timeout = hello_timeout
        self.daemons: dict[str, DaemonLink] = {}
        self.browsers: dict[int, set[BrowserLink]] = {}
        self.subscribers: dict[tuple[str, str], set[BrowserLink]] = {}
        self.commands = Commands(self, retry_interval=retry_interval, max_retries=max_retries)
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_config(cls, config: Any) -> Hub:
        return cls(
            heartbeat=float(config.get("IMCODES_BRIDGE_HEARTBEAT", 15.0)),
            retry_interval=float(config.get("IMCODES_BRIDGE_RETRY_INTERVAL", 8.0)),
            max_retries=int(config.get("IMCODES_BRIDGE_MAX_RETRIES", 5)),
            viewer_bytes=int(config.get("IMCODES_BRIDGE_VIEWER_BYTES", 4 * 1024 * 1024)),
            hello_timeout=float(config.get("IMCODES_BRIDGE_HELLO_TIMEOUT", 10.0)),
        )

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._heartbeat_loop(), name="bridge-heartbeats"),
            asyncio.create_task(self.commands.retry_loop(), name="bridge-retries"),
        ]

    async def close_all(self, code: int = CLOSE_GOING_AWAY) -> None:
        links: list[Link] = [*self.daemons.values(), *(b for group in self.browsers.values() for b in group)]
        await asyncio.gather(*(link.close(code, "server going away") for link in links), return_exceptions=True)

    async def stop(self) -> None:
        await self.close_all()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []

    # --- daemons ------------------------------------------------------------------------------------------------

    def daemon(self, machine: str) -> DaemonLink | None:
        link = self.daemons.get(machine)
        return None if link is None or link.closed else link

    async def daemon_joined(self, link: DaemonLink) -> None:
        """Register a daemon that said hello; a previous connection of the same machine is replaced."""
        previous = self.daemons.get(link.machine)
        self.daemons[link.machine] = link
        if previous is not None and previous is not link:
            _logger.info("machine %s connected again: the previous daemon link is replaced", link.machine)
            await previous.close(CLOSE_REPLACED, "replaced by a newer connection")
        self.to_machine(
            link.machine, link.owner_id, encode_frame(LinkStatus(machine=link.machine, daemon_online=True))
        )

    async def daemon_left(self, link: DaemonLink) -> None:
        """Idempotent: the handler's exit and disconnect_machine both call it."""
        if self.daemons.get(link.machine) is not link:
            return
        del self.daemons[link.machine]
        self.to_machine(
            link.machine, link.owner_id, encode_frame(LinkStatus(machine=link.machine, daemon_online=False))
        )
        await self.commands.daemon_gone(link.machine)
        with contextlib.suppress(Exception):
            await store.touch_machine(link.machine)

    async def daemon_synced(self, link: DaemonLink, sessions: list[str]) -> None:
        """After sessions.sync: open terminals resubscribe (fresh snapshot), then queued commands go out."""
        link.ready = True
        for name in sessions:
            if self.subscribers.get((link.machine, name)):
                self.commands.internal(link.machine, {"type": "terminal.subscribe", "session": name})
        await self.commands.daemon_ready(link)

    def session_removed(self, machine: str, name: str) -> None:
        for browser in self.subscribers.pop((machine, name), set()):
            browser.subscriptions.discard((machine, name))

    def relay_binary(self, link: DaemonLink, data: bytes) -> str | None:
        """Forward terminal bytes to that session's subscribers only; returns an error reason if malformed.

        Per frame: the header is validated and rewritten (the stream gets the machine's name), and the payload is
        copied once into the outgoing frame, which every subscriber shares; it is never decoded or re-encoded.
        """
        try:
            kind, session, offset = peek_binary(data)
        except ValueError as error:
            return str(error)
        viewers = self.subscribers.get((link.machine, session))
        if not viewers:
            return None
        stream = f"{link.machine}/{session}"
        out = encode_binary(kind, stream, b"") + memoryview(data)[offset:]
        behind = False
        for viewer in list(viewers):
            behind = viewer.offer_terminal(kind, stream, out) or behind
        if behind:
            self.commands.internal(link.machine, {"type": "terminal.subscribe", "session": session})
        return None

    # --- browsers -----------------------------------------------------------------------------------------------

    def browser_joined(self, link: BrowserLink) -> None:
        self.browsers.setdefault(link.user_id, set()).add(link)

    def browser_left(self, link: BrowserLink) -> None:
        group = self.browsers.get(link.user_id)
        if group is not None:
            group.discard(link)
            if not group:
                del self.browsers[link.user_id]
        for key in list(link.subscriptions):
            self.unsubscribe(link, *key)

    async def close_browsers(self, matches: Callable[[BrowserLink], bool], reason: str) -> int:
        """Close (4401: the page shows it is signed out) every browser link `matches` picks; returns how many."""
        doomed = [link for group in self.browsers.values() for link in group if matches(link)]
        for link in doomed:
            self.browser_left(link)  # at once: nothing more is relayed to it while it closes
        await asyncio.gather(*(link.close(CLOSE_UNAUTHORIZED, reason) for link in doomed), return_exceptions=True)
        return len(doomed)

    def to_user(self, user_id: int, text: str) -> None:
        for browser in list(self.browsers.get(user_id, ())):
            browser.send_text(text)

    def to_machine(self, machine: str, owner_id: int, text: str, session: str | None = None) -> None:
        """To the owner's browsers and to those of users the machine (or, with `session`, that session) is shared
        with."""
        self.to_user(owner_id, text)
        for user_id, group in list(self.browsers.items()):
            if user_id == owner_id:
                continue
            for browser in list(group):
                grant = browser.grants.get(machine)
                if grant is not None and (session is None or grant.shows(session)):
                    browser.send_text(text)

    def regrant(self, link: BrowserLink, grants: dict[str, Any]) -> None:
        """New shares for this browser: terminal subscriptions it may no longer watch end now."""
        link.grants = grants
        link.allowed_machines.clear()
        for machine, session in list(link.subscriptions):
            grant = grants.get(machine)
            if grant is None or not grant.shows(session):
                self.unsubscribe(link, machine, session)

    def subscribe(self, link: BrowserLink, machine: str, session: str) -> None:
        key = (machine, session)
        self.subscribers.setdefault(key, set()).add(link)
        link.subscriptions.add(key)
        link.awaiting_snapshot.discard(f"{machine}/{session}")

    def unsubscribe(self, link: BrowserLink, machine: str, session: str) -> None:
        key = (machine, session)
        link.subscriptions.discard(key)
        viewers = self.subscribers.get(key)
        if viewers is None or link not in viewers:
            return
        viewers.discard(link)
        if not viewers:
            del self.subscribers[key]
            self.commands.internal(machine, {"type": "terminal.unsubscribe", "session": session})

    def online_drivers(self) -> dict[str, list[dict[str, Any]]]:
        return {m: link.drivers for m, link in self.daemons.items() if not link.closed}

    # --- heartbeats ---------------------------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            now = time.monotonic()
            links: list[Link] = [*self.daemons.values(), *(b for group in self.browsers.values() for b in group)]
            for link in links:
                due = link.heartbeat_due(now, self.heartbeat)
                if due == "close":
                    _logger.info("%s missed two heartbeats: closing it", link.describe())
                    await link.close(CLOSE_TIMEOUT, "heartbeat lost")
                elif due == "ping":
                    link.send_text(encode_frame(Ping(t=time.time())))
            for machine in list(self.daemons):
                with contextlib.suppress(Exception):
                    await store.touch_machine(machine)


def peek_binary(data: bytes) -> tuple[BinaryKind, str, int]:
    """The kind, stream and payload offset of a binary frame, checked by ``decode_binary`` on the header alone (a
    short prefix), so a large payload is neither copied nor scanned here."""
    prefix = data if len(data) <= _PEEK_BYTES else bytes(memoryview(data)[:_PEEK_BYTES])
    frame = decode_binary(prefix)
    offset = _HEADER_BYTES + len(frame.stream.encode())
    if len(data) - offset > MAX_BINARY_PAYLOAD:
        raise ValueError("binary payload too large")
    return frame.kind, frame.stream, offset


_HEADER_BYTES = 4  # version, kind, 2-byte name length (imcodes_core.protocol.binary)
_PEEK_BYTES = _HEADER_BYTES + MAX_STREAM_NAME
