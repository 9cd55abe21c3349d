"""The daemon's sessions: create, stop, rename, adopt after a restart, restart a dead one within its budget."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.followers import ChannelFollowers, pane_pid
from imcodes_core.daemon.journal import Journal
from imcodes_core.daemon.live import LiveSession
from imcodes_core.daemon.sessions import (
    SESSION_NAME,
    RestartPolicy,
    SessionRecord,
    SessionStore,
    conversation_id,
    new_session_name,
)
from imcodes_core.daemon.tmux import Tmux, TmuxError
from imcodes_core.drivers import Capability, DriverKind, LaunchPlan, LaunchRequest
from imcodes_core.host import PluginHost
from imcodes_core.protocol.frames import DriverInfo, SessionInfo, TimelineEvent
from imcodes_core.redaction import SecretRegistry
from imcodes_core.states import SessionState, StateVerdict

if TYPE_CHECKING:
    from imcodes_core.daemon.transport import TransportSession

log = logging.getLogger(__name__)

OPTION = "@imcodes"
DEFAULT_COLS, DEFAULT_ROWS = 120, 40


class SessionError(Exception):
    """A command on sessions that cannot be done; the message is shown to the user as is."""


class Publisher(Protocol):
    def timeline(self, event: TimelineEvent) -> None: ...

    def session_updated(self, info: SessionInfo) -> None: ...

    def session_removed(self, name: str) -> None: ...

    def wake(self, session: str) -> None: ...


class NullPublisher:
    def timeline(self, event: TimelineEvent) -> None:
        pass

    def session_updated(self, info: SessionInfo) -> None:
        pass

    def session_removed(self, name: str) -> None:
        pass

    def wake(self, session: str) -> None:
        pass


class SessionRegistry:
    def __init__(self, config: DaemonConfig, host: PluginHost, secrets: SecretRegistry | None = None) -> None:
        self.config = config
        self.host = host
        self.secrets = secrets
        self.tmux = Tmux(config.tmux_socket)
        self.publisher: Publisher = NullPublisher()
        self.sessions: dict[str, LiveSession] = {}
        self.store = SessionStore(config.sessions_path, lambda: [s.record for s in self.sessions.values()])
        self._restarts: dict[str, deque[float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.update_listeners: list[Callable[[LiveSession], None]] = []  # e.g. permission questions to announce
        self.followers = ChannelFollowers(config.state_dir / "sessions")  # drivers' machine channels, per session
        from imcodes_core.daemon.transport import TransportSessions  # it builds on this module

        self.transports = TransportSessions(self)  # agents driven through ACP, without tmux

    # -- queries -------------------------------------------------------------------------------------------------

    def infos(self) -> list[SessionInfo]:
        return [live.info() for live in self.sessions.values()] + self.transports.infos()

    def drivers(self) -> list[DriverInfo]:
        return [
            DriverInfo(name=spec.name, title=spec.title or spec.name, kind=str(spec.kind), installed=True)
            for spec in self.host.agent_drivers()
        ]

    def get(self, name: str) -> LiveSession:
        if name in self.transports:  # everything asked through get() is about a pane
            raise SessionError(f"session {name!r} has no terminal: use the chat view (it is driven through ACP)")
        live = self.sessions.get(name)
        if live is None:
            raise SessionError(f"no session named {name!r}")
        return live

    # -- startup and shutdown ------------------------------------------------------------------------------------

    async def adopt_existing(self) -> None:
        """Take over every tmux session on our socket that carries ``@imcodes``; note the ones that ended."""
        self.config.timeline_dir.mkdir(parents=True, exist_ok=True)
        found: set[str] = set()
        for line in await self.tmux.list_sessions("#{session_name}\t#{" + OPTION + "}"):
            name, _, raw = line.partition("\t")
            record = SessionRecord.from_option(name, raw) if raw else None
            if record is None or name in self.sessions:
                continue
            found.add(name)
            journal = Journal(self.config.timeline_dir, name)
            if not journal.open(record.epoch):
                record.epoch += 1  # the journal is lost: a new epoch, so seq 1 cannot collide with stored events
                journal.epoch = record.epoch
                await self._save_option(record)
            live = self._live(record, journal)
            try:
                await live.attach()
            except (RuntimeError, TmuxError) as exc:
                log.warning("session %s could not be adopted: %s", name, exc)
                continue
            self.sessions[name] = live
            live.emit("session.adopted", {})
            await self._follow(live)
            log.info("adopted session %s (%s)", name, record.driver)
        for stored in self.store.load():
            name = str(stored.get("name", ""))
            if name and name not in found and SESSION_NAME.match(name):
                journal = Journal(self.config.timeline_dir, name)
                if journal.open(int(stored.get("epoch", 1) or 1)):
                    ended = {"status": None, "note": "ended while the daemon was stopped"}
                    conversation = conversation_id(stored.get("conversation"))
                    journal.append(
                        "session.exited", {**ended, **({"conversation": conversation} if conversation else {})}
                    )
        self.transports.adopt(set(self.sessions))  # their agents start again and reload their conversations
        self.followers.sweep(set(self.sessions))
        self.store.changed()

    async def close(self) -> None:
        """Detach from every session (they keep running in tmux) and write sessions.json now."""
        await self.transports.close()  # agents without tmux end with the daemon (the next one adopts them again)
        await self.followers.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(live.detach() for live in self.sessions.values()), return_exceptions=True)
        self.store.flush()

    # -- commands ------------------------------------------------------------------------------------------------

    async def start(
        self,
        driver: str,
        cwd: str,
        label: str = "",
        name: str | None = None,
        restart: RestartPolicy | None = None,
        resume: str | None = None,
    ) -> LiveSession | TransportSession:
        try:
            spec = self.host.agent_driver(driver)
        except (KeyError, ValueError) as exc:
            raise SessionError(str(exc).strip("\"'")) from None
        if spec.kind is DriverKind.TRANSPORT:  # resume: ACP session/load, refused when the agent does not offer it
            taken = set(self.sessions) | set(await self.tmux.list_sessions("#{session_name}"))
            return await self.transports.start(spec, cwd, label, name, taken, resume or "")
        folder = Path(cwd or os.path.expanduser("~")).expanduser()  # noqa: ASYNC240 - a stat, not I/O to wait on
        if not folder.is_dir():
            raise SessionError(f"folder {str(folder)!r} does not exist or is not a directory")
        taken = set(self.sessions) | set(self.transports.sessions)
        taken |= {line for line in await self.tmux.list_sessions("#{session_name}")}
        if name is None:
            name = new_session_name(spec.name, taken)
        elif not SESSION_NAME.match(name):
            raise SessionError(f"invalid session name {name!r}: letters, digits, '_', '-', '@' (no '.' or ':')")
        elif name in taken:
            raise SessionError(f"a session named {name!r} already exists")
        record = SessionRecord(
            name, spec.name, label[:128], str(folder.resolve()), restart=restart or RestartPolicy()
        )
        record.conversation = resume or ""  # until the agent's hooks report its own id
        plan = self._plan(record, resume)  # before any journal or pane: a driver that cannot resume says so
        journal = Journal(self.config.timeline_dir, name)
        journal.open(record.epoch)
        record.epoch = journal.epoch
        await self._launch(record, plan)
        live = self._live(record, journal)
        try:
            await live.attach()
        except (RuntimeError, TmuxError) as exc:
            raise SessionError(f"session {name} ended as soon as it started ({exc})") from None
        self.sessions[name] = live
        live.emit("session.started", {"driver": record.driver, "cwd": record.cwd, "label": record.label})
        await self._follow(live)
        self.updated(live)
        log.info("started session %s (%s) in %s", name, record.driver, record.cwd)
        return live

    async def stop(self, name: str) -> None:
        if name in self.transports:
            await self.transports.stop(name)
            return
        live = self.get(name)
        await self.followers.stop(name)
        await live.detach()
        try:
            await self.tmux.run("kill-session", "-t", f"={name}")
        except TmuxError as exc:
            log.info("kill-session %s: %s", name, exc)
        live.emit("session.exited", {"status": "stopped", **self._conversation(live.record)})
        self._remove(live)

    async def rename(self, name: str, label: str) -> LiveSession | TransportSession:
        if name in self.transports:
            return self.transports.rename(name, label)
        live = self.get(name)
        live.record.label = label[:128]
        await self._save_option(live.record)
        live.emit("session.renamed", {"label": live.record.label})
        self.updated(live)
        return live

    # -- SessionSink ---------------------------------------------------------------------------------------------

    def timeline(self, event: TimelineEvent) -> None:
        self.publisher.timeline(event)

    def updated(self, live: LiveSession) -> None:
        self.publisher.session_updated(live.info())
        self.store.changed()
        for listener in self.update_listeners:
            listener(live)

    def wake(self, session: str) -> None:
        self.publisher.wake(session)

    def control_lost(self, live: LiveSession) -> None:
        task = asyncio.get_running_loop().create_task(self._after_control_lost(live))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- internals -----------------------------------------------------------------------------------------------

    def _live(self, record: SessionRecord, journal: Journal) -> LiveSession:
        detectors = [spec.detector for spec in self.host.state_detectors()]
        return LiveSession(
            record, self.tmux, journal, detectors, self, viewer_limit=self.config.viewer_limit, secrets=self.secrets
        )

    async def _follow(self, live: LiveSession) -> None:
        """Follow the machine channels the session's driver names (imcodes_core/channels.py)."""
        try:
            driver = self.host.agent_driver(live.record.driver).driver
        except (KeyError, ValueError):  # an adopted session whose plugin is gone: screens only
            return
        await self.followers.follow(live, driver, await pane_pid(self.tmux, live.name))

    def _plan(self, record: SessionRecord, resume: str | None = None) -> LaunchPlan:
        spec = self.host.agent_driver(record.driver)
        # IMCODES_HOME: where the agent's hook command finds the daemon's event socket (daemon/channels.py)
        request = LaunchRequest(
            session=record.name,
            cwd=Path(record.cwd),
            resume_id=resume,
            env={"IMCODES_HOME": str(self.config.home)},
            state_dir=self.followers.state_dir(record.name),
        )
        try:
            plan = spec.driver.launch_plan(request)
        except ValueError as exc:  # e.g. "the qwen driver cannot resume a conversation yet": shown as is
            raise SessionError(str(exc)[:500]) from None
        if resume and Capability.RESUME not in spec.capabilities:  # a driver that would silently start afresh
            raise SessionError(f"the {spec.name} driver cannot resume a conversation")
        return plan

    async def _launch(self, record: SessionRecord, plan: LaunchPlan | None = None) -> None:
        spec = self.host.agent_driver(record.driver)
        plan = plan or self._plan(record)
        record.channel = {str(key): str(value) for key, value in plan.channel.items()}  # stored with the option
        env = self.host.session_env(spec.name, record.name, plan.env)
        env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        command = (
            "new-session", "-d", "-s", record.name, "-x", str(DEFAULT_COLS), "-y", str(DEFAULT_ROWS),
            "-c", str(plan.cwd or record.cwd), *env_args, "--", *plan.argv,
        )  # fmt: skip
        try:
            await self.tmux.run(*command)
        except TmuxError as exc:
            # Stopping the last session makes the tmux server exit; a start in that instant reaches the exiting
            # server. Once it is gone, a new-session starts a fresh one.
            if "server exited unexpectedly" not in str(exc):
                raise
            await asyncio.sleep(0.3)
            await self.tmux.run(*command)
        await self._save_option(record)

    async def _save_option(self, record: SessionRecord) -> None:
        try:
            await self.tmux.run("set-option", "-t", f"={record.name}:", OPTION, record.to_option())
        except TmuxError as exc:
            log.warning("cannot store %s on session %s: %s", OPTION, record.name, exc)
        self.store.changed()

    def _remove(self, live: LiveSession) -> None:
        self.followers.discard(live.name)  # channels were stopped before: nothing writes there any more
        self.sessions.pop(live.name, None)
        self._restarts.pop(live.name, None)
        self.publisher.session_removed(live.name)
        self.store.changed()

    async def _after_control_lost(self, live: LiveSession) -> None:
        name = live.name
        if self.sessions.get(name) is not live:
            return
        if name in await self.tmux.list_sessions("#{session_name}"):
            try:
                await live.attach()  # the control client died but the session lives: reattach
                return
            except (RuntimeError, TmuxError) as exc:
                log.warning("cannot reattach to %s: %s", name, exc)
        live.settle_output()
        await self.followers.stop(name)
        live.emit("session.exited", {"status": None, **self._conversation(live.record)})
        live.judge("", pane_dead=True)
        if not live.record.restart.enabled:
            await live.detach()
            self._remove(live)
            return
        history = self._restarts.setdefault(name, deque())
        now = time.monotonic()
        while history and now - history[0] > live.record.restart.window:
            history.popleft()
        if len(history) >= live.record.restart.max_restarts:
            await live.detach()
            reason = f"restarted {len(history)} times within {live.record.restart.window:.0f} s: not restarting"
            live.verdict = StateVerdict(SessionState.ERROR, 1.0, None, reason, live.verdict.readings)
            live.emit("state.changed", {"state": "error", "reason": reason})
            self.updated(live)
            log.warning("session %s: %s", name, reason)
            return
        history.append(now)
        try:
            await self._launch(live.record)
            live.closing = False
            await live.attach()
        except (RuntimeError, TmuxError, SessionError) as exc:
            log.warning("restart of %s failed: %s", name, exc)
            self._remove(live)
            return
        live.emit("session.started", {**self._started_data(live.record), "restart": len(history)})
        await self._follow(live)
        self.updated(live)

    @staticmethod
    def _conversation(record: SessionRecord) -> dict[str, str]:
        """For session.exited: the id a client passes as session.start's resume to continue this conversation."""
        return {"conversation": record.conversation} if record.conversation else {}

    @staticmethod
    def _started_data(record: SessionRecord) -> dict[str, str]:
        return {"driver": record.driver, "cwd": record.cwd, "label": record.label}
