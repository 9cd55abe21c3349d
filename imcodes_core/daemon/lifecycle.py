"""The daemon's life, shaped like uvicorn's: startup, a main loop in a TaskGroup, graceful shutdown on signals.

Startup takes the single-instance lock (``<home>/daemon/daemon.lock``, fcntl.flock: released by the kernel even
after kill -9), builds the plugin host, adopts the tmux sessions that carry ``@imcodes``, then runs the server
link. SIGINT/SIGTERM end the main loop; shutdown closes the link, detaches from every session (they keep running
in tmux) and writes sessions.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
from pathlib import Path
from types import TracebackType

from imcodes_core.daemon.channels import EventChannel
from imcodes_core.daemon.commands import CommandHandler
from imcodes_core.daemon.config import DaemonConfig
from imcodes_core.daemon.link import ServerLink
from imcodes_core.daemon.registry import SessionRegistry
from imcodes_core.host import PluginHost
from imcodes_core.redaction import SecretRegistry

log = logging.getLogger(__name__)


class AlreadyRunningError(RuntimeError):
    pass


class InstanceLock:
    """An exclusive, non-blocking flock on a file holding our pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunningError(
                f"another imcodes daemon (pid {holder}) is running for {self.path.parent.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class Daemon:
    def __init__(self, config: DaemonConfig, host: PluginHost, *, secrets: SecretRegistry | None = None) -> None:
        self.config = config
        self.host = host
        self.secrets = secrets or SecretRegistry()
        self.registry = SessionRegistry(config, host, self.secrets)
        self.commands = CommandHandler(self.registry)
        self.link = ServerLink(config, self.registry, self.commands, secrets=self.secrets, version=_version())
        self.registry.publisher = self.link
        self.events = EventChannel(config.events_socket, self.registry.sessions.get, self.secrets)
        self.started = asyncio.Event()
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        self._stop.set()

    async def serve(self, *, install_signals: bool = True) -> None:
        """Startup, main loop until a signal (or request_stop), shutdown. Raises AlreadyRunningError."""
        with InstanceLock(self.config.lock_path):
            loop = asyncio.get_running_loop()
            if install_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, self.request_stop)
            try:
                await self._startup()
                self.started.set()
                async with asyncio.TaskGroup() as group:
                    link = group.create_task(self.link.run(), name="server-link")
                    await self._stop.wait()
                    log.info("stopping")
                    link.cancel()
            finally:
                await self._shutdown()
                if install_signals:
                    for sig in (signal.SIGINT, signal.SIGTERM):
                        loop.remove_signal_handler(sig)

    async def _startup(self) -> None:
        self.config.timeline_dir.mkdir(parents=True, exist_ok=True)
        await self.registry.adopt_existing()
        await self.events.start()
        log.info(
            "daemon started (home %s, tmux socket %s, %d session(s) adopted)",
            self.config.home,
            self.config.tmux_socket,
            len(self.registry.sessions),
        )

    async def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await self.events.close()
        with contextlib.suppress(Exception):
            await self.registry.close()
        log.info("daemon stopped")


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("imcodes-core")
    except metadata.PackageNotFoundError:
        return "0+unknown"
