"""imcodes-core: hookspecs, plugin host, protocol models, daemon, CLI and the plugin author's test kit."""

from imcodes_core.hookspecs import hookimpl, hookspec
from imcodes_core.host import PluginHost, make_plugin_host

__all__ = ["PluginHost", "hookimpl", "hookspec", "make_plugin_host"]
