"""Click commands the server contributes to `imcodes` (and `python -m imcodes_server`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from imcodes_core.host import PluginHost
from imcodes_server.config import imcodes_home, make_config

_host_option = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
_port_option = click.option("--port", default=8787, show_default=True, type=click.IntRange(1, 65535))
_home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="imcodes data directory (default: IMCODES_HOME or ~/.imcodes).",
)


def _home(home: Path | None) -> Path:
    return (home or imcodes_home()).expanduser().resolve()


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C before serving starts (initdb, migrations): stop quietly; the database is stopped on the way out."""
    try:
        yield
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def _plugin_host() -> PluginHost:
    from imcodes_core.host import make_plugin_host

    return make_plugin_host()


@click.command("up")
@_host_option
@_port_option
@_home_option
@click.option("--no-daemon", is_flag=True, help="Do not start the local daemon.")
def up_command(host: str, port: int, home: Path | None, no_daemon: bool) -> None:
    """Start the database, the server and a local daemon paired to it."""
    from imcodes_server.launcher import run

    data = _home(home)
    config = make_config(host=host, port=port, data_dir=data / "server")
    with _interruptible():
        run(config, data, with_daemon=not no_daemon, pair=True, host=_plugin_host())


@click.command("server")
@_host_option
@_port_option
@_home_option
def server_command(host: str, port: int, home: Path | None) -> None:
    """Serve only (no local daemon, no pairing)."""
    from imcodes_server.launcher import run

    data = _home(home)
    config = make_config(host=host, port=port, data_dir=data / "server")
    with _interruptible():
        run(config, data, with_daemon=False, pair=False, host=_plugin_host())


@click.command("login-link")
@click.option("--host", default=None, help="Address the server listens on (default: the running server's).")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port (default: the running server's).")
@_home_option
def login_link_command(host: str | None, port: int | None, home: Path | None) -> None:
    """Print a new one-time sign-in link for the owner."""
    from imcodes_server.launcher import login_link, read_endpoint

    data = _home(home) / "server"
    running = read_endpoint(data)
    config = make_config(
        host=host or running.get("host", "127.0.0.1"),
        port=port or int(running.get("port", 8787)),
        data_dir=data,
        public_origin=None if (host or port) else running.get("origin"),
    )
    click.echo(login_link(config))


def make_cli() -> click.Group:
    group = click.Group("imcodes-server", help="imcodes server commands.")
    for command in (up_command, server_command, login_link_command):
        group.add_command(command)
    return group
