"""The imcodes daemon: tmux sessions for agent drivers, streamed to the server over one WebSocket link.

Build one with ``Daemon(DaemonConfig.create(home), make_plugin_host())`` and ``await daemon.serve()``; run it with
``python -m imcodes_core.daemon --home DIR`` or ``imcodes daemon``. Nothing runs at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imcodes_core.daemon.config import DaemonConfig
    from imcodes_core.daemon.lifecycle import AlreadyRunningError, Daemon

__all__ = ["AlreadyRunningError", "Daemon", "DaemonConfig"]


def __getattr__(name: str) -> Any:
    if name == "DaemonConfig":
        from imcodes_core.daemon.config import DaemonConfig

        return DaemonConfig
    if name in ("Daemon", "AlreadyRunningError"):
        from imcodes_core.daemon import lifecycle

        return getattr(lifecycle, name)
    raise AttributeError(name)
