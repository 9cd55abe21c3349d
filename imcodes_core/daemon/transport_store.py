"""Transport sessions across a daemon restart: ``<home>/transports.json`` and their adoption.

A transport agent is a child of the daemon and ends with it, so "adopting" one means starting its agent again and
reopening its conversation with ACP ``session/load``. Only sessions whose agent offers ``session/load`` have a
conversation (``SessionRecord.conversation``, the ACP sessionId) and are stored. The file is written atomically on
every change (start, stop, exit, rename, shutdown: rare events, so not debounced), so it also survives a daemon
killed without a shutdown. It is separate from sessions.json: that one lists tmux sessions, and a stored tmux
session that is gone is reported as ended, while a stored transport session is started again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from imcodes_core.daemon.journal import Journal
from imcodes_core.daemon.registry import SessionError
from imcodes_core.daemon.sessions import SESSION_NAME, SessionRecord, write_records
from imcodes_core.redaction import redact
from imcodes_core.states import AgentEvent

if TYPE_CHECKING:
    from imcodes_core.daemon.transport import TransportSession, TransportSessions
    from imcodes_core.specs import AgentDriverSpec

log = logging.getLogger(__name__)

TRANSPORTS_FILE = "transports.json"
REPLAY_SHOWN = 200  # the newest events of a resumed conversation shown in the new session (the chat needs no more)
ADOPTED_NOTE = "the daemon restarted: the agent was started again and reloaded its conversation"


class TransportStore:
    """``transports.json``: the records of the transport sessions to start again after a daemon restart."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[SessionRecord]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return []
        stored = data.get("sessions") if isinstance(data, dict) else None
        records = []
        for item in stored if isinstance(stored, list) else []:
            name = item.get("name") if isinstance(item, dict) else None
            record = SessionRecord.from_option(name, json.dumps(item)) if isinstance(name, str) else None
            if record is not None and SESSION_NAME.match(record.name) and record.conversation:
                records.append(record)
        return records

    def save(self, records: Iterable[SessionRecord]) -> None:
        records = list(records)
        if not records and not self.path.exists():
            return  # nothing to remember and nothing to forget: an idle daemon writes nothing
        write_records(self.path, records)


def adopt_stored(transports: TransportSessions, taken: set[str]) -> None:
    """Start every stored session's agent again on its conversation, each in a task of its own (an agent takes
    seconds to start; meanwhile the session is listed, starting, and refuses prompts)."""
    for record in transports.store.load():
        if record.name in taken or record.name in transports.sessions:
            log.warning("transport session %s not adopted: another session has its name now", record.name)
            continue  # its journal is that session's now: nothing is written to it
        try:
            spec = transports.registry.host.agent_driver(record.driver)
        except (KeyError, ValueError):
            _ended_while_stopped(transports, record, f"the {record.driver} driver is not installed any more")
            continue
        session = transports.session(record, fallback_epoch=record.epoch)
        transports.registry.publisher.session_updated(session.info())
        transports.track(_adopt(transports, session, spec), f"adopt {record.name}")
    transports.persist()


async def _adopt(transports: TransportSessions, session: TransportSession, spec: AgentDriverSpec) -> None:
    conversation = session.record.conversation
    try:
        replayed = await transports.open(session, spec, conversation)
    except SessionError as exc:
        if transports.sessions.get(session.name) is not session:
            return  # stopped meanwhile, or ended as its agent exited: its session.exited is written
        note = f"not reloaded after the daemon restarted: {exc}"
        session.emit("session.exited", {"status": None, "conversation": conversation, "note": note})
        transports.forget(session)
        log.warning("transport session %s was not adopted: %s", session.name, exc)
        return
    # the journal goes on: the replayed conversation is in it already, so it is counted, not written again
    session.emit("session.adopted", {"conversation": conversation, "replayed": len(replayed), "note": ADOPTED_NOTE})
    transports.registry.publisher.session_updated(session.info())
    log.info("adopted transport session %s (%s), conversation %s", session.name, spec.name, conversation)


def _ended_while_stopped(transports: TransportSessions, record: SessionRecord, why: str) -> None:
    """A stored session that cannot come back: its journal says so, with its conversation (still resumable)."""
    journal = Journal(transports.registry.config.timeline_dir, record.name)
    if journal.open(record.epoch):
        ended = {"status": None, "conversation": record.conversation, "note": f"not adopted: {why}"}
        transports.registry.publisher.timeline(journal.append("session.exited", ended))
    log.warning("transport session %s was not adopted: %s", record.name, why)


def show_resumed(session: TransportSession, conversation: str, replayed: list[AgentEvent]) -> None:
    """A new session on an earlier conversation: its journal does not have the conversation so far, so the newest
    replayed events go in (marked ``replayed``: the chat shows them, nothing takes them for new activity)."""
    session.emit("session.resumed", {"conversation": conversation, "replayed": len(replayed)})
    for event in replayed[-REPLAY_SHOWN:]:
        data = dict(event.data)
        if "text" in data:
            data["text"] = redact(str(data["text"]), session.secrets)
        session.emit(event.kind, data)
