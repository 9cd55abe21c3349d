"""`/ws/client`: a browser's link. Exact Origin + single-use ticket (refused: close 4401 before any data), then the
user's machines (their own and those shared with them), live frames, and the browser's commands, each authorised by
`sharing.decide_role` (owner / participant / viewer / nothing) and `sharing.may_send`; non-owners' commands are
audited."""

from __future__ import annotations

import logging
import time
from typing import Any

from imcodes_core.protocol.frames import (
    Ack,
    FrameError,
    MachinesList,
    Ping,
    Pong,
    ReplayDone,
    TerminalSubscribe,
    TerminalUnsubscribe,
    TimelineAppended,
    TimelineReplay,
    encode_frame,
    error_frame,
    parse_frame,
)
from imcodes_server import auth, sharing
from imcodes_server.bridge import store
from imcodes_server.bridge.hub import Hub
from imcodes_server.bridge.links import CLOSE_UNAUTHORIZED, BrowserLink

_logger = logging.getLogger("imcodes.server.bridge")

CLIENT_IN = frozenset(
    {
        "ping",
        "pong",
        "session.start",
        "session.stop",
        "session.rename",
        "terminal.subscribe",
        "terminal.unsubscribe",
        "terminal.input",
        "terminal.resize",
        "session.prompt",
        "permission.answer",
        "session.interrupt",
        "timeline.replay",
    }
)
# Reading what is already shown, not commands: not worth an audit row each (a page replays on every scroll).
AUDIT_SKIPPED = frozenset({"timeline.replay", "terminal.unsubscribe"})
OWNERSHIP_TTL = 30.0  # a positive ownership check is reused this long (keystrokes need no query each)


async def serve_browser(hub: Hub, ws: Any, config: Any) -> None:
    # Refuse before accepting: the browser sees the handshake fail and gets no data at all.
    if not auth.origin_allowed(ws.headers.get("Origin"), config):
        _logger.info("browser WebSocket refused: origin not allowed")
        await ws.close(CLOSE_UNAUTHORIZED, "origin not allowed")
        return
    grant = await auth.ticket_grant(ws.args.get("ticket", ""))
    if grant is None:
        _logger.info("browser WebSocket refused: ticket unknown, used or expired, or its sign-in revoked")
        await ws.close(CLOSE_UNAUTHORIZED, "ticket refused")
        return
    await ws.accept()
    link = BrowserLink(
        ws,
        int(grant.user.id),
        terminal_limit=hub.viewer_bytes,
        web_session_id=grant.web_session_id,
        api_key_id=grant.api_key_id,
    )
    link.user_name = str(grant.user.name)
    hub.browser_joined(link)  # first, so nothing that happens while the list is read is missed
    try:
        # A revocation between spending the ticket and joining the hub did not see this link: look once more.
        if not await auth.grant_alive(grant):
            await link.close(CLOSE_UNAUTHORIZED, "signed out")
            return
        link.grants = await sharing.grants_for(link.user_id)
        await ws.send(await machines_frame(hub, link))
        link.start_writer()
        while not link.closed:
            raw = await ws.receive()
            link.received()
            await _handle(hub, link, raw)
    finally:
        hub.browser_left(link)
        await link.finish()


async def _handle(hub: Hub, link: BrowserLink, raw: str | bytes | None) -> None:
    if not isinstance(raw, str):
        link.send_text(error_frame("malformed", "browsers send JSON text frames only"))
        return
    try:
        frame = parse_frame(raw, allowed=CLIENT_IN)
    except FrameError as error:
        _logger.warning("%s sent a refused frame: %s (%s)", link.describe(), error.code, error)
        link.send_text(error_frame(error.code, str(error), error.ref))
        return
    try:
        await _dispatch(hub, link, frame)
    except Exception:
        _logger.exception("handling a %s frame from %s failed", getattr(frame, "type", "?"), link.describe())
        link.send_text(error_frame("internal", "the server could not handle that frame", frame.id))


async def machines_frame(hub: Hub, link: BrowserLink) -> str:
    """The `machines` frame for this browser: the user's own machines, then those shared with them (with role)."""
    online = hub.online_drivers()
    owned = await store.machines_for_user(link.user_id, online)
    shared = await sharing.shared_machines(link.grants, online)
    return encode_frame(MachinesList(machines=[*owned, *shared]))


async def _role(link: BrowserLink, machine: str, session: str | None) -> str | None:
    """sharing.decide_role with this socket's cached inputs (ownership for OWNERSHIP_TTL, shares until changed)."""
    grant = link.grants.get(machine)
    if grant is not None:  # nobody is granted their own machine (routes_sharing refuses it)
        return sharing.decide_role(False, grant, session)
    checked = link.allowed_machines.get(machine)
    if checked is not None and time.monotonic() - checked < OWNERSHIP_TTL:
        return sharing.OWNER
    if await store.owns_machine(link.user_id, machine):
        link.allowed_machines[machine] = time.monotonic()
        return sharing.OWNER
    link.allowed_machines.pop(machine, None)
    return None


async def _dispatch(hub: Hub, link: BrowserLink, frame: Any) -> None:
    if isinstance(frame, Ping):
        link.send_text(encode_frame(Pong(t=frame.t)))
        return
    if isinstance(frame, Pong):
        return
    machine = getattr(frame, "machine", None)
    if not machine:
        link.send_text(error_frame("invalid", f"{frame.type} needs a machine", frame.id))
        return
    role = await _role(link, machine, getattr(frame, "session", None))
    if role is None:
        # the same answer for someone else's machine (or unshared session) and for one that does not exist
        link.send_text(error_frame("forbidden", "no such machine", frame.id))
        return
    if not sharing.may_send(role, frame.type):
        await _audit(link, machine, role, frame, allowed=False)
        link.send_text(error_frame("forbidden", sharing.refusal(role, frame.type), frame.id))
        return
    if role != sharing.OWNER and frame.type not in AUDIT_SKIPPED:
        await _audit(link, machine, role, frame, allowed=True)  # recorded before it runs
    if isinstance(frame, TimelineReplay):
        await _replay(link, frame)
        return
    if isinstance(frame, TerminalUnsubscribe):
        hub.unsubscribe(link, machine, frame.session)
        if frame.id:
            link.send_text(encode_frame(Ack(ref=frame.id, ok=True)))
        return
    if isinstance(frame, TerminalSubscribe):
        hub.subscribe(link, machine, frame.session)  # every new viewer gets its own fresh snapshot
    command = frame.model_dump(exclude={"machine"}, exclude_none=True)
    await hub.commands.from_browser(link, machine, command)


async def _audit(link: BrowserLink, machine: str, role: str, frame: Any, *, allowed: bool) -> None:
    await sharing.record_command(
        user_id=link.user_id,
        user_name=link.user_name,
        machine=machine,
        session=getattr(frame, "session", None),
        role=role,
        frame=frame.model_dump(include={"type", "data", "text", "choice"}),
        allowed=allowed,
    )


async def _replay(link: BrowserLink, frame: TimelineReplay) -> None:
    events, more = await store.replay(frame.machine, frame.session, frame.epoch, frame.after_seq, frame.limit)
    for event in events:
        link.send_text(encode_frame(TimelineAppended(event=event, machine=frame.machine)))
    last = events[-1] if events else None
    link.send_text(
        encode_frame(
            ReplayDone(
                machine=frame.machine,
                session=frame.session,
                epoch=last.epoch if last else frame.epoch,
                last_seq=last.seq if last else frame.after_seq,
                more=more,
            )
        )
    )
