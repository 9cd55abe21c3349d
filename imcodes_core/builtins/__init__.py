"""Built-in plugins, registered before any entry point. Their hooks are ``trylast`` so plugins can override them."""

from __future__ import annotations

from types import ModuleType


def BUILTIN_PLUGINS() -> list[tuple[str, ModuleType]]:  # noqa: N802 - reads like the constant it stands for
    from imcodes_core.builtins import screen, shell

    return [("builtin-shell", shell), ("builtin-screen", screen)]
