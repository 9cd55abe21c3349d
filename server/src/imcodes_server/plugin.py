"""Entry point of imcodes-server (group `imcodes`): the `up`, `server` and `login-link` commands."""

from __future__ import annotations

from collections.abc import Iterable

from imcodes_core.hookspecs import hookimpl
from imcodes_core.specs import CommandSpec


@hookimpl
def imcodes_cli_commands() -> Iterable[CommandSpec]:
    from imcodes_server.cli import login_link_command, server_command, up_command

    section = "Server"
    return [
        CommandSpec(name="up", command=up_command, section=section),
        CommandSpec(name="server", command=server_command, section=section),
        CommandSpec(name="login-link", command=login_link_command, section=section),
    ]
