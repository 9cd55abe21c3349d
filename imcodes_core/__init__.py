"""imcodes-core: hookspecs, plugin host, protocol models, daemon, CLI and the plugin author's test kit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imcodes_core.hookspecs import hookimpl, hookspec
    from imcodes_core.host import PluginHost, make_plugin_host

__all__ = ["PluginHost", "hookimpl", "hookspec", "make_plugin_host"]


def __getattr__(name: str) -> Any:
    """The names above, imported on first use: ``imcodes hook`` (run on every agent hook event) imports this
    package and must not pay for pluggy and the specs."""
    if name in ("hookimpl", "hookspec"):
        from imcodes_core import hookspecs

        return getattr(hookspecs, name)
    if name in ("PluginHost", "make_plugin_host"):
        from imcodes_core import host

        return getattr(host, name)
    raise AttributeError(f"module 'imcodes_core' has no attribute {name!r}")
