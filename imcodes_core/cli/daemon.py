"""``imcodes daemon``: run the machine's daemon in the foreground (imported only when the command runs)."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import runpy
import sys
from collections.abc import Awaitable
from pathlib import Path

import click

DAEMON_PACKAGE = "imcodes_core.daemon"


def _find(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def run_daemon(argv: list[str]) -> None:
    """Run ``python -m imcodes_core.daemon ARGV`` in this process, or its package-level ``run(home)``."""
    if _find(f"{DAEMON_PACKAGE}.__main__"):
        saved = sys.argv
        sys.argv = ["imcodes daemon", *argv]
        try:  # as `python -m` would: works whether __main__ calls main() under a __name__ guard or not
            runpy.run_module(DAEMON_PACKAGE, run_name="__main__", alter_sys=True)
        finally:
            sys.argv = saved
        return
    package = importlib.import_module(DAEMON_PACKAGE) if _find(DAEMON_PACKAGE) else None
    run = getattr(package, "run", None)
    if not callable(run):
        raise click.ClickException(
            f"the daemon is not part of this imcodes-core ({DAEMON_PACKAGE} has no entry point)"
        )
    home = Path(argv[argv.index("--home") + 1]) if "--home" in argv else None
    result = run(home)
    if inspect.isawaitable(result):
        asyncio.run(_wait(result))


async def _wait(awaitable: Awaitable[object]) -> None:
    await awaitable


@click.command("daemon")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="imcodes data directory (default: IMCODES_HOME or ~/.imcodes).",
)
@click.option("--log-level", default=None, help="DEBUG, INFO or WARNING (the daemon's default: INFO).")
def daemon_command(home: Path | None, log_level: str | None) -> None:
    """Run the daemon in the foreground (tmux sessions, agent drivers, the server link)."""
    argv = ["--home", str(home)] if home is not None else []
    run_daemon([*argv, "--log-level", log_level] if log_level else argv)
