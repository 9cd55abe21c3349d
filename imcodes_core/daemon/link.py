"""The daemon's WebSocket link to the server (``/ws/daemon``), as LINK.md describes it.

hello -> hello.ok (persisted positions) -> sessions.sync -> journal events after the persisted positions -> live.
The resend is queued in one synchronous step together with switching to live, so no event falls between the two
(no gap, no duplicate). One sender task drains the queued text frames first, then every session with pending
terminal bytes (taking all that piled up: batching happens only while bytes keep coming). A ping goes out only
after ``ping_interval`` without sending anything: an idle daemon wakes once per interval, never more.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections import deque

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from imcodes_core.daemon.commands import VIEWER_KEY, CommandHandler
from imcodes_core.daemon.config import DaemonConfig, LinkSettings, read_link_file
from imcodes_core.daemon.journal import read_events
from imcodes_core.daemon.registry import SessionRegistry
from imcodes_core.protocol.binary import encode_binary
from imcodes_core.protocol.frames import (
    MAX_TEXT_FRAME_BYTES,
    Ack,
    DaemonHello,
    ErrorFrame,
    Frame,
    FrameError,
    HelloAccepted,
    Ping,
    Pong,
    SessionInfo,
    SessionRemoved,
    SessionsSync,
    SessionUpdated,
    TimelineAppended,
    TimelineEvent,
    encode_frame,
    error_frame,
    parse_frame,
)
from imcodes_core.redaction import SecretRegistry

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 15.0
CLOSE_TOKEN_REFUSED = 4401
CLOSE_WRONG_MACHINE = 4403
MAX_QUEUED_FRAMES = 20_000
SERVER_TO_DAEMON = frozenset(
    {
        "ping", "pong", "ack", "error", "hello.ok", "session.start", "session.stop", "session.rename",
        "terminal.subscribe", "terminal.unsubscribe", "terminal.input", "terminal.resize",
        "session.prompt", "permission.answer", "session.interrupt",
    }
)  # fmt: skip


class TokenRefusedError(Exception):
    pass


class StaleLinkError(Exception):
    pass


class ServerLink:
    """Implements the registry's Publisher: what happens to sessions reaches the server while linked."""

    def __init__(
        self,
        config: DaemonConfig,
        registry: SessionRegistry,
        commands: CommandHandler,
        *,
        secrets: SecretRegistry | None = None,
        version: str = "",
    ) -> None:
        self.config = config
        self.registry = registry
        self.commands = commands
        self.secrets = secrets
        self.version = version
        self.live = False
        self.connected = asyncio.Event()  # set while live (tests and `imcodes status` wait on it)
        self._ws: ClientConnection | None = None
        self._text: deque[str] = deque()
        self._ready: dict[str, None] = {}
        self._wakeup = asyncio.Event()
        self._last_sent = 0.0
        self._last_received = 0.0

    # -- Publisher -----------------------------------------------------------------------------------------------

    def timeline(self, event: TimelineEvent) -> None:
        if self.live:
            self.send(TimelineAppended(event=event))

    def session_updated(self, info: SessionInfo) -> None:
        if self.live:
            self.send(SessionUpdated(session=info))

    def session_removed(self, name: str) -> None:
        if self.live:
            self.send(SessionRemoved(session=name))
        self._ready.pop(name, None)

    def wake(self, session: str) -> None:
        self._ready[session] = None
        self._wakeup.set()

    def send(self, frame: Frame | str) -> None:
        if len(self._text) >= MAX_QUEUED_FRAMES:
            return  # the server stopped reading; the heartbeat will recycle the link and resync from the journal
        self._text.append(frame if isinstance(frame, str) else encode_frame(frame))
        self._wakeup.set()

    # -- the reconnect loop --------------------------------------------------------------------------------------

    async def run(self) -> None:
        attempt = 0
        unpaired_logged = False
        while True:
            settings = read_link_file(self.config.link_path)  # read again each time: `imcodes up` may re-pair
            if settings is None:
                if not unpaired_logged:
                    log.warning(
                        "not paired: run imcodes up (no usable %s); sessions run on; looking again every %.0f s",
                        self.config.link_path,
                        self.config.unpaired_retry,
                    )
                    unpaired_logged = True
                await asyncio.sleep(self.config.unpaired_retry)
                continue
            unpaired_logged = False
            if self.secrets is not None:
                self.secrets.add(settings.token)
            try:
                await self._connect(settings)
                attempt = 0
                delay = self._backoff(0)
            except TokenRefusedError:
                log.error(
                    "token refused: pair again with imcodes up/bind (retrying in %.0f s)",
                    self.config.token_refused_retry,
                )
                delay = self.config.token_refused_retry
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError, StaleLinkError) as exc:
                delay = self._backoff(attempt)
                attempt += 1
                log.info("server link down (%s): retrying in %.1f s", _describe(exc), delay)
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.config.backoff_max, self.config.backoff_min * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    async def _connect(self, settings: LinkSettings) -> None:
        try:
            ws = await connect(
                settings.ws_url,
                additional_headers={"Authorization": f"Bearer {settings.token}"},
                max_size=4 * MAX_TEXT_FRAME_BYTES,  # a little oversized gets an error frame, not a 1009 close
                compression=None,
                proxy=None,
                ping_interval=None,  # our JSON pings, only when idle (LINK.md)
                open_timeout=10,
                close_timeout=3,
            )
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise TokenRefusedError from None
            raise
        try:
            await self._session(ws, settings)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code == CLOSE_TOKEN_REFUSED:
                raise TokenRefusedError from None
            if code == CLOSE_WRONG_MACHINE:
                log.error("the server says link.json's machine is not the token's machine: pair again")
                raise TokenRefusedError from None
            raise
        finally:
            self._offline()
            await ws.close()

    async def _session(self, ws: ClientConnection, settings: LinkSettings) -> None:
        hello = DaemonHello(
            machine=settings.machine,
            hostname=socket.gethostname()[:255],
            version=self.version,
            drivers=self.registry.drivers(),
        )
        await ws.send(encode_frame(hello))
        accepted = await asyncio.wait_for(self._await_hello(ws), HELLO_TIMEOUT)
        self._ws = ws
        self._last_received = self._last_sent = time.monotonic()
        self._go_live(accepted)
        log.info("linked to %s as %s", settings.server, settings.machine)
        tasks = [
            asyncio.create_task(self._sender(ws), name="link-sender"),
            asyncio.create_task(self._receiver(ws), name="link-receiver"),
            asyncio.create_task(self._heartbeat(ws), name="link-heartbeat"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # re-raise why the link ended

    async def _await_hello(self, ws: ClientConnection) -> HelloAccepted:
        while True:
            raw = await ws.recv()
            try:
                frame = parse_frame(raw, allowed=SERVER_TO_DAEMON)
            except FrameError as exc:
                log.warning("bad frame from the server before hello.ok: %s", exc.code)
                continue
            if isinstance(frame, HelloAccepted):
                return frame
            if isinstance(frame, ErrorFrame):
                log.warning("server error during hello: %s: %s", frame.code, frame.message[:200])
            elif isinstance(frame, Ping):
                await ws.send(encode_frame(Pong(t=frame.t)))

    def _go_live(self, accepted: HelloAccepted) -> None:
        """Queue sessions.sync and the journal resend, and go live, in one step without awaiting."""
        self._text.clear()
        self.send(SessionsSync(sessions=self.registry.infos()))
        directory = self.config.timeline_dir
        for path in sorted(directory.glob("*.jsonl")) if directory.is_dir() else []:
            name = path.stem
            position = accepted.persisted.get(name) or [0, 0]
            after = (position[0], position[1]) if len(position) == 2 else (0, 0)
            events = [e for e in read_events(path) if (e.epoch, e.seq) > after]
            if not events and name not in self.registry.sessions and name not in self.registry.transports:
                path.unlink(missing_ok=True)  # a removed session whose whole journal the server holds
                continue
            for event in events:
                self.send(TimelineAppended(event=event))
        self.live = True
        self.connected.set()

    def _offline(self) -> None:
        self.live = False
        self.connected.clear()
        self._ws = None
        self._text.clear()
        self._ready.clear()
        for live in self.registry.sessions.values():
            live.unsubscribe(VIEWER_KEY)  # subscriptions belong to the connection; the server resubscribes

    # -- tasks ---------------------------------------------------------------------------------------------------

    async def _sender(self, ws: ClientConnection) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._text or self._ready:
                while self._text:
                    await ws.send(self._text.popleft())
                    self._last_sent = time.monotonic()
                if self._ready:
                    session = next(iter(self._ready))
                    del self._ready[session]
                    live = self.registry.sessions.get(session)
                    viewer = live.viewers.get(VIEWER_KEY) if live is not None else None
                    if viewer is None:
                        continue
                    for kind, payload in viewer.take():
                        await ws.send(encode_binary(kind, session, payload))
                    self._last_sent = time.monotonic()

    async def _receiver(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self._last_received = time.monotonic()
            if isinstance(raw, bytes):
                log.warning("the server sent a binary frame: not accepted on this link")
                self.send(error_frame("not_allowed", "the daemon accepts no binary frames"))
                continue
            try:
                frame = parse_frame(raw, allowed=SERVER_TO_DAEMON)
            except FrameError as exc:
                log.warning("refused a frame from the server: %s (%s)", exc.code, exc)  # never the payload
                self.send(error_frame(exc.code, str(exc), exc.ref))
                continue
            await self._dispatch(frame)

    async def _dispatch(self, frame: Frame) -> None:
        if isinstance(frame, Ping):
            self.send(Pong(t=frame.t))
        elif isinstance(frame, ErrorFrame):
            log.warning("the server reported an error: %s: %s", frame.code, frame.message[:200])
        elif isinstance(frame, Pong | HelloAccepted | Ack):
            pass
        else:
            answer = await self.commands.handle(frame)
            if answer is not None:
                self.send(answer)

    async def _heartbeat(self, ws: ClientConnection) -> None:
        interval = self.config.ping_interval
        while True:
            now = time.monotonic()
            if now - self._last_received > 2 * interval + 5:
                raise StaleLinkError("no frame from the server for two ping intervals")
            idle = now - self._last_sent
            if idle >= interval:
                self.send(Ping(t=time.time()))
                self._last_sent = now
                idle = 0.0
            await asyncio.sleep(min(interval - idle, max(1.0, self._last_received + 2 * interval + 5 - now)))


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]
