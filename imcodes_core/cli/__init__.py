"""The ``imcodes`` command line: a cloup group with sections, core commands plus those plugins contribute.

``main()`` builds a plugin host, then the group through :func:`make_cli`. Everything heavy (the server, the
daemon, network checks) is imported inside the command that needs it, so ``imcodes --help`` stays cheap.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

# click, cloup and the plugin host are imported where they are used: ``imcodes hook`` (run by agents on every
# hook event) must not pay for them
if TYPE_CHECKING:
    import click
    import cloup

    from imcodes_core.host import PluginHost, PluginSettings

CORE_SECTION = "Core"
PLUGINS_SECTION = "Plugins"

log = logging.getLogger(__name__)


def make_cli(host: PluginHost) -> cloup.Group:
    """The ``imcodes`` group for ``host``: core sections first, then one section per plugin-declared section."""
    import cloup

    from imcodes_core.cli.bind import bind_command
    from imcodes_core.cli.daemon import daemon_command
    from imcodes_core.cli.doctor import doctor_command
    from imcodes_core.cli.hook import hook_command
    from imcodes_core.cli.plugins import plugins_group

    group = cloup.Group(
        "imcodes",
        help="imcodes: a side channel to your terminal coding agents.",
        # the host travels as ctx.obj, so core commands read the same plugins the group was built from
        context_settings={"help_option_names": ["-h", "--help"], "obj": host},
    )
    group.add_section(cloup.Section(CORE_SECTION, [doctor_command, daemon_command, bind_command, hook_command]))
    group.add_section(cloup.Section(PLUGINS_SECTION, [plugins_group]))
    _add_plugin_commands(group, host)
    return group


def _add_plugin_commands(group: cloup.Group, host: PluginHost) -> None:
    import cloup

    from imcodes_core.host import PluginError

    sections: dict[str, cloup.Section] = {}
    for spec in host.cli_commands():
        if spec.name in group.commands:
            message = f"plugin command {spec.name!r} clashes with an existing command; left out"
            if host.settings.strict:
                raise PluginError(message)
            log.warning(message)
            continue
        section = sections.setdefault(spec.section, cloup.Section(spec.section))
        group.add_command(spec.command, name=spec.name, section=section)


def host_from_context(ctx: click.Context) -> PluginHost:
    """The plugin host the running group was built with (a fresh one when a command runs on its own)."""
    from imcodes_core.host import PluginHost

    host = ctx.find_object(PluginHost)
    if host is not None:
        return host
    from imcodes_core.host import make_plugin_host

    return make_plugin_host()


def build_cli(settings: PluginSettings | None = None) -> cloup.Group:
    """Make the plugin host (strict mode may raise :class:`PluginError`) and the group around it."""
    from imcodes_core.host import make_plugin_host

    host = make_plugin_host(settings)
    return make_cli(host)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point. In strict plugin mode a broken plugin is one line on stderr and exit status 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["hook"]:  # run by agents on every hook event: no plugin host, no click, exit 0 fast
        from imcodes_core import hook_client

        raise SystemExit(hook_client.main(args[1:]))
    from imcodes_core.host import PluginError, PluginSettings

    settings = PluginSettings.from_env()
    # lenient: the host's warnings name each broken plugin; strict: the one error line below says it all
    logging.basicConfig(level=logging.ERROR if settings.strict else logging.WARNING, format="imcodes: %(message)s")
    try:
        cli = build_cli(settings)
    except PluginError as exc:
        print(f"imcodes: plugin error (IMCODES_STRICT_PLUGINS is on): {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    cli.main(args=list(argv) if argv is not None else None, prog_name="imcodes")
