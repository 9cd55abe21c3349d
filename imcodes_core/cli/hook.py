"""``imcodes hook AGENT`` as a click command, for ``imcodes --help``; agents reach the fast path
:func:`imcodes_core.hook_client.main` directly (see ``imcodes_core.cli.main``)."""

from __future__ import annotations

import click

from imcodes_core.hook_client import main


@click.command("hook", context_settings={"ignore_unknown_options": True})
@click.argument("agent")
@click.argument("payload", nargs=-1)
def hook_command(agent: str, payload: tuple[str, ...]) -> None:
    """Hand one hook event (JSON on stdin, or as the last argument) to the daemon; always exits 0."""
    raise SystemExit(main([agent, *payload]))
