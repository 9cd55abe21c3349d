"""``imcodes daemon``: run the machine's daemon in the foreground (imported only when the command runs)."""

from __future__ import annotations

import importlib
from pathlib import Path

import click


@click.command("daemon")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="imcodes data directory (default: IMCODES_HOME or ~/.imcodes).",
)
def daemon_command(home: Path | None) -> None:
    """Run the daemon in the foreground (tmux sessions, agent drivers, the server link)."""
    try:
        entry = importlib.import_module("imcodes_core.daemon.__main__")
    except ModuleNotFoundError as exc:
        if exc.name not in {"imcodes_core.daemon", "imcodes_core.daemon.__main__"}:
            raise
        raise click.ClickException(
            "the daemon is not part of this imcodes-core build (imcodes_core.daemon is missing)"
        ) from None
    run = getattr(entry, "main", None)
    if not callable(run):
        raise click.ClickException("imcodes_core.daemon.__main__ has no main(argv)")
    argv = ["--home", str(home)] if home is not None else []
    result = run(argv)
    if isinstance(result, int) and result:
        raise SystemExit(result)
