"""``imcodes plugins``: list what is installed and scaffold new plugin packages."""

from __future__ import annotations

import json
from pathlib import Path

import click
import cloup

from imcodes_core.host import PluginRecord, PluginStatus

_STATUS_MARK = {PluginStatus.OK: "ok", PluginStatus.ERROR: "ERROR", PluginStatus.DISABLED: "disabled"}


@cloup.group("plugins", help="Inspect installed plugins and create new ones.")
def plugins_group() -> None:
    pass


@plugins_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (one object per plugin).")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """Every plugin: built-ins first, then entry points, with version, hooks, status and error."""
    from imcodes_core.cli import host_from_context

    records = host_from_context(ctx).plugins
    if as_json:
        click.echo(json.dumps([record.to_dict() for record in records], indent=2))
        return
    click.echo(format_table(records))
    failed = [r for r in records if r.status is PluginStatus.ERROR]
    if failed:
        click.echo(f"\n{len(failed)} plugin(s) failed to load; the rest work. Details above.")


def format_table(records: list[PluginRecord]) -> str:
    rows = [("NAME", "DISTRIBUTION", "VERSION", "STATUS", "HOOKS")]
    for record in records:
        hooks = ", ".join(h.removeprefix("imcodes_") for h in sorted(record.hooks)) or "-"
        rows.append((record.name, record.distribution, record.version, _STATUS_MARK[record.status], hooks))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in rows
    ]
    for record in records:
        for error in record.errors:
            lines.append(f"  ! {record.name}: {error}")
    return "\n".join(line.rstrip() for line in lines)


@plugins_group.command("new")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["driver", "detector", "mode", "notifier"]),
    required=True,
    help="What the plugin contributes.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the package in.",
)
def new_command(name: str, kind: str, directory: Path) -> None:
    """Create a complete, installable plugin package NAME (e.g. imcodes-echo) from the core's templates."""
    from imcodes_core.cli.scaffold import ScaffoldError, render_plugin

    try:
        created = render_plugin(name, kind, directory)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {created}")
    click.echo("next:")
    click.echo(f"  pip install -e {created}          # or: uv pip install -e {created}")
    click.echo("  imcodes plugins list              # the new plugin shows up, status ok")
    click.echo(f"  cd {created} && pytest            # the generated contract tests")
