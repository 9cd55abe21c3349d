"""`/ws/daemon`: a daemon's link. Bearer token -> machine, hello / hello.ok with the persisted positions, then
sessions, timeline events (persisted once, relayed to the owner's browsers), terminal bytes and acks."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from imcodes_core.protocol.frames import (
    Ack,
    DaemonHello,
    ErrorFrame,
    FrameError,
    HelloAccepted,
    Ping,
    Pong,
    SessionRemoved,
    SessionsSync,
    SessionUpdated,
    TimelineAppended,
    encode_frame,
    error_frame,
    parse_frame,
)
from imcodes_server import auth
from imcodes_server.bridge import store
from imcodes_server.bridge.hub import Hub
from imcodes_server.bridge.links import CLOSE_TIMEOUT, CLOSE_UNAUTHORIZED, CLOSE_WRONG_MACHINE, DaemonLink

_logger = logging.getLogger("imcodes.server.bridge")

SERVER_VERSION = "0.1.0"
DAEMON_IN = frozenset(
    {"ping", "pong", "ack", "error", "sessions.sync", "session.updated", "session.removed", "timeline.event"}
)


def _bearer(header: str | None) -> str:
    if not header:
        return ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def serve_daemon(hub: Hub, ws: Any) -> None:
    machine = await auth.machine_for_token(_bearer(ws.headers.get("Authorization")))
    await ws.accept()
    if machine is None:
        _logger.info("daemon refused: unknown or revoked token")
        await ws.close(CLOSE_UNAUTHORIZED, "token refused")
        return
    link = DaemonLink(ws, machine.id, int(machine.owner_id))  # type: ignore[attr-defined]
    link.start_writer()
    joined = False
    try:
        hello = await _await_hello(link, hub.hello_timeout)
        if hello is None:
            return
        link.hostname = hello.hostname
        link.drivers = [d.model_dump() for d in hello.drivers]
        await store.touch_machine(link.machine, hello.hostname)
        persisted = await store.persisted_positions(link.machine)
        link.send_text(encode_frame(HelloAccepted(server_version=SERVER_VERSION, persisted=persisted)))
        await hub.daemon_joined(link)
        joined = True
        _logger.info("daemon %s connected (%d sessions persisted)", link.machine, len(persisted))
        while not link.closed:
            raw = await ws.receive()
            link.received()
            await _handle(hub, link, raw)
    finally:
        await link.finish()
        if joined:
            await hub.daemon_left(link)
            _logger.info("daemon %s disconnected", link.machine)


async def _await_hello(link: DaemonLink, limit: float) -> DaemonHello | None:
    """The first valid frame must be daemon.hello for the token's machine, within `limit` seconds."""
    deadline = time.monotonic() + limit
    while True:
        remaining = deadline - time.monotonic()
        try:
            raw = await asyncio.wait_for(link.ws.receive(), max(remaining, 0.001))
        except TimeoutError:
            await link.close(CLOSE_TIMEOUT, "no hello")
            return None
        link.received()
        if not isinstance(raw, str):
            link.send_text(error_frame("hello_required", "send daemon.hello first"))
            continue
        try:
            frame = parse_frame(raw, allowed=frozenset({"daemon.hello", "ping"}))
        except FrameError as error:
            _log_refused(link, error)
            link.send_text(error_frame(error.code, str(error), error.ref))
            continue
        if isinstance(frame, Ping):
            link.send_text(encode_frame(Pong(t=frame.t)))
            continue
        assert isinstance(frame, DaemonHello)
        if frame.machine != link.machine:
            _logger.warning("daemon hello names another machine than its token's (%s)", link.machine)
            link.send_text(error_frame("wrong_machine", "hello.machine is not the machine this token was issued for"))
            await asyncio.sleep(0.05)  # let the writer flush the error before the close
            await link.close(CLOSE_WRONG_MACHINE, "wrong machine")
            return None
        return frame


def _log_refused(link: DaemonLink, error: FrameError) -> None:
    _logger.warning("%s sent a refused frame: %s (%s)", link.describe(), error.code, error)


async def _handle(hub: Hub, link: DaemonLink, raw: str | bytes | None) -> None:
    if isinstance(raw, bytes):
        reason = hub.relay_binary(link, raw)
        if reason is not None:
            _logger.warning("%s sent a bad binary frame: %s", link.describe(), reason)
            link.send_text(error_frame("bad_binary", reason))
        return
    if raw is None:
        link.send_text(error_frame("malformed", "empty frame"))
        return
    try:
        frame = parse_frame(raw, allowed=DAEMON_IN)
    except FrameError as error:
        _log_refused(link, error)
        link.send_text(error_frame(error.code, str(error), error.ref))
        return
    try:
        await _dispatch(hub, link, frame)
    except Exception:
        _logger.exception("handling a %s frame from %s failed", getattr(frame, "type", "?"), link.describe())
        link.send_text(error_frame("internal", "the server could not handle that frame", frame.id))


async def _dispatch(hub: Hub, link: DaemonLink, frame: object) -> None:
    owner = link.owner_id
    if isinstance(frame, TimelineAppended):
        if await store.insert_event(link.machine, frame.event):
            hub.to_machine(
                link.machine,
                owner,
                encode_frame(TimelineAppended(event=frame.event, machine=link.machine)),
                frame.event.session,
            )
    elif isinstance(frame, Ack):
        await hub.commands.ack(link, frame)
    elif isinstance(frame, SessionUpdated):
        await store.upsert_session(link.machine, frame.session)
        hub.to_machine(
            link.machine,
            owner,
            encode_frame(SessionUpdated(session=frame.session, machine=link.machine)),
            frame.session.name,
        )
    elif isinstance(frame, SessionRemoved):
        await store.remove_session(link.machine, frame.session)
        hub.session_removed(link.machine, frame.session)
        hub.to_machine(
            link.machine,
            owner,
            encode_frame(SessionRemoved(session=frame.session, machine=link.machine)),
            frame.session,
        )
    elif isinstance(frame, SessionsSync):
        removed = await store.sync_sessions(link.machine, frame.sessions)
        for info in frame.sessions:
            hub.to_machine(
                link.machine, owner, encode_frame(SessionUpdated(session=info, machine=link.machine)), info.name
            )
        for name in removed:
            hub.session_removed(link.machine, name)
            hub.to_machine(
                link.machine, owner, encode_frame(SessionRemoved(session=name, machine=link.machine)), name
            )
        await hub.daemon_synced(link, [info.name for info in frame.sessions])
    elif isinstance(frame, Ping):
        link.send_text(encode_frame(Pong(t=frame.t)))
    elif isinstance(frame, ErrorFrame):
        _logger.warning("%s reported an error: %s", link.describe(), frame.code)
