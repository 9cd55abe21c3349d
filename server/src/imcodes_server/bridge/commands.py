"""Commands from browsers to daemons: the server's own id per daemon command, acks mapped back to the browser's id,
retries every few seconds, dedupe of a browser's resent id, and the durable queue for an offline daemon."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imcodes_core.protocol.frames import Ack, encode_frame, error_frame
from imcodes_server.bridge import store

if TYPE_CHECKING:
    from imcodes_server.bridge.hub import Hub
    from imcodes_server.bridge.links import BrowserLink, DaemonLink

_logger = logging.getLogger("imcodes.server.bridge")

DURABLE = frozenset({"session.start", "session.stop", "session.rename"})
RECENT_LIMIT = 5000  # remembered (user, id) answers, so a resend after a reconnect is answered, not re-run
RECENT_TTL = 300.0


@dataclass
class Pending:
    server_id: str
    machine: str
    frame: dict[str, Any]  # the frame as the daemon gets it (with `id` = server_id)
    durable: bool
    requester: BrowserLink | None = None
    client_ref: str | None = None
    user_id: int | None = None
    queue_row: int | None = None
    attempts: int = 0
    sent_at: float = field(default_factory=time.monotonic)

    @property
    def dedupe_key(self) -> tuple[int, str] | None:
        return (self.user_id, self.client_ref) if self.user_id is not None and self.client_ref else None


class Commands:
    def __init__(self, hub: Hub, *, retry_interval: float, max_retries: int) -> None:
        self.hub = hub
        self.retry_interval = retry_interval
        self.max_retries = max_retries
        self.pending: dict[str, Pending] = {}
        self._recent: OrderedDict[tuple[int, str], tuple[float, Pending | str]] = OrderedDict()
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count(1)
        self._wake = asyncio.Event()

    def new_id(self) -> str:
        return f"s{self._prefix}-{next(self._counter)}"

    # --- dedupe -------------------------------------------------------------------------------------------------

    def _remember(self, key: tuple[int, str] | None, value: Pending | str) -> None:
        if key is None:
            return
        self._recent[key] = (time.monotonic(), value)
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT_LIMIT:
            self._recent.popitem(last=False)

    def _recalled(self, key: tuple[int, str]) -> Pending | str | None:
        found = self._recent.get(key)
        if found is None:
            return None
        if time.monotonic() - found[0] > RECENT_TTL:
            del self._recent[key]
            return None
        return found[1]

    # --- from browsers ------------------------------------------------------------------------------------------

    async def from_browser(self, link: BrowserLink, machine: str, frame: dict[str, Any]) -> None:
        """Route one authorised browser command (`frame` without `machine`; `id` is the browser's)."""
        client_ref: str | None = frame.pop("id", None)
        kind = frame["type"]
        durable = kind in DURABLE
        key = (link.user_id, client_ref) if client_ref else None
        if key is not None:
            seen = self._recalled(key)
            if isinstance(seen, Pending):  # still in flight: answer whoever asked last
                seen.requester = link
                return
            if isinstance(seen, str):
                link.send_text(seen)
                return
            if durable:
                answer = await store.queued_answer(link.user_id, key[1])
                if answer is not None:
                    link.send_text(_encode_answer(answer, key[1]))
                    return
        server_id = self.new_id()
        pending = Pending(
            server_id=server_id,
            machine=machine,
            frame={**frame, "id": server_id},
            durable=durable,
            requester=link,
            client_ref=client_ref,
            user_id=link.user_id,
        )
        daemon = self.hub.daemon(machine)
        if daemon is None:
            await self._settle_offline(pending)
            return
        self._remember(key, pending)
        self._send(daemon, pending)

    def internal(self, machine: str, frame: dict[str, Any]) -> None:
        """A command of the server's own (resubscribe, unsubscribe, fresh snapshot): dropped if the daemon is off."""
        daemon = self.hub.daemon(machine)
        if daemon is None:
            return
        server_id = self.new_id()
        self._send(daemon, Pending(server_id, machine, {**frame, "id": server_id}, durable=False))

    def _send(self, daemon: DaemonLink, pending: Pending) -> None:
        self.pending[pending.server_id] = pending
        pending.sent_at = time.monotonic()
        daemon.send_text(_encode_command(pending.frame))
        self._wake.set()

    def _answer(self, pending: Pending, answer: str | None) -> None:
        if answer is None:
            return
        self._remember(pending.dedupe_key, answer)
        if pending.requester is not None:
            pending.requester.send_text(answer)

    async def _settle_offline(self, pending: Pending) -> None:
        """The daemon is not connected: durable commands wait in the queue table, volatile ones fail now."""
        self.pending.pop(pending.server_id, None)
        if pending.queue_row is not None:
            return  # already queued: the next connection gets it
        if pending.durable and pending.user_id is not None:
            client_ref = pending.client_ref or f"srv-{pending.server_id}"
            row = await store.enqueue_command(pending.machine, pending.user_id, client_ref, pending.frame)
            _logger.info("queued %s (#%d) for offline machine %s", pending.frame["type"], row, pending.machine)
            if pending.client_ref:
                self._answer(pending, encode_frame(Ack(ref=pending.client_ref, ok=True, result={"queued": True})))
            return
        if pending.client_ref:
            offline = error_frame("daemon_offline", "the machine's daemon is offline", pending.client_ref)
            self._answer(pending, offline)

    # --- from daemons -------------------------------------------------------------------------------------------

    async def ack(self, daemon: DaemonLink, ack: Ack) -> None:
        pending = self.pending.get(ack.ref)
        if pending is None or pending.machine != daemon.machine:
            return  # a late or repeated ack: already answered
        del self.pending[ack.ref]
        if pending.queue_row is not None:
            stored = Ack(ref=pending.client_ref or ack.ref, ok=ack.ok, error=ack.error, result=ack.result)
            await store.mark_delivered(pending.queue_row, stored.model_dump(exclude_none=True))
        if pending.client_ref:
            self._answer(
                pending, encode_frame(Ack(ref=pending.client_ref, ok=ack.ok, error=ack.error, result=ack.result))
            )

    async def daemon_ready(self, daemon: DaemonLink) -> None:
        """A daemon (re)connected and synced: resend what it has not acked, then deliver the queue in order."""
        machine = daemon.machine
        for pending in [p for p in self.pending.values() if p.machine == machine]:
            self._send(daemon, pending)
        for row in await store.undelivered(machine):
            frame = dict(row.frame)
            server_id = str(frame.get("id") or f"q{row.id}")
            if server_id in self.pending:
                continue
            frame["id"] = server_id
            recalled = self._recalled((row.user_id, row.client_ref))  # type: ignore[attr-defined]
            requester = recalled.requester if isinstance(recalled, Pending) else None
            pending = Pending(
                server_id=server_id,
                machine=machine,
                frame=frame,
                durable=True,
                requester=requester,
                client_ref=row.client_ref,
                user_id=row.user_id,  # type: ignore[attr-defined]
                queue_row=row.id,
            )
            self._send(daemon, pending)

    async def daemon_gone(self, machine: str) -> None:
        for pending in [p for p in self.pending.values() if p.machine == machine]:
            await self._settle_offline(pending)

    # --- retries ------------------------------------------------------------------------------------------------

    async def retry_loop(self) -> None:
        while True:
            if not self.pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            now = time.monotonic()
            due = min(p.sent_at for p in self.pending.values()) + self.retry_interval
            if due > now:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), due - now)
                continue
            for pending in list(self.pending.values()):
                if now - pending.sent_at >= self.retry_interval:
                    try:
                        await self._retry(pending)
                    except Exception:
                        _logger.exception("retrying command %s failed", pending.server_id)
                        self.pending.pop(pending.server_id, None)

    async def _retry(self, pending: Pending) -> None:
        daemon = self.hub.daemon(pending.machine)
        if daemon is None:
            await self._settle_offline(pending)
            return
        if pending.attempts >= self.max_retries:
            del self.pending[pending.server_id]
            _logger.warning(
                "command %s to %s unanswered after %d retries",
                pending.frame["type"],
                pending.machine,
                pending.attempts,
            )
            message = "the daemon did not answer"
            if pending.queue_row is not None:
                await store.mark_delivered(
                    pending.queue_row, {"type": "ack", "ref": pending.client_ref, "ok": False, "error": message}
                )
            if pending.client_ref:
                self._answer(pending, error_frame("daemon_timeout", message, pending.client_ref))
            return
        pending.attempts += 1
        self._send(daemon, pending)


def _encode_command(frame: dict[str, Any]) -> str:
    return json.dumps({"v": 1, **frame}, separators=(",", ":"))


def _encode_answer(answer: dict[str, Any], client_ref: str) -> str:
    return encode_frame(Ack.model_validate({**answer, "ref": client_ref}))
