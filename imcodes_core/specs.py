"""Frozen ``...Spec`` records that registration hooks return and the plugin host validates."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from imcodes_core.discussions import DiscussionMode
from imcodes_core.drivers import AgentDriver, Capability, DriverKind
from imcodes_core.memory import ContextProvider, Embedder, MemoryBackend
from imcodes_core.notifications import Notifier
from imcodes_core.states import StateDetector
from imcodes_core.supervision import Supervisor

if TYPE_CHECKING:
    import click

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def normalise_name(name: str) -> str:
    """Names are compared lower-case with ``_`` and ``-`` treated alike (like distribution names)."""
    normalised = name.strip().lower().replace("_", "-")
    if not _NAME.match(normalised):
        raise ValueError(f"invalid name {name!r}: use a letter, then letters, digits, '-' or '_' (at most 63)")
    return normalised


_COMMAND = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")  # a bare command name, looked up on PATH
_VERSION = re.compile(r"^v?\d+(\.\d+)*([-+][0-9A-Za-z.-]+)?$")  # 2.1.331, 2026.9.6, 1.0.0-beta.2


@dataclass(frozen=True, slots=True)
class AgentDriverSpec:
    """An agent driver. ``cli`` is the command the driver launches (``claude``) and ``tested_versions`` the versions
    of it the driver's screens, hooks and files were verified against; ``imcodes doctor`` compares them with what
    is installed. Both are optional: built-in and transport drivers may launch no CLI."""

    name: str
    driver: AgentDriver
    title: str = ""
    kind: DriverKind = DriverKind.PROCESS
    capabilities: frozenset[Capability] = frozenset()
    tested_versions: tuple[str, ...] = ()
    cli: str | None = None

    def __post_init__(self) -> None:
        if self.cli is not None and not (isinstance(self.cli, str) and _COMMAND.match(self.cli)):
            raise ValueError(f"driver {self.name!r}: cli {self.cli!r} is not a command name (no spaces, no path)")
        versions: Any = self.tested_versions
        if isinstance(versions, str) or not isinstance(versions, tuple | list):
            # a bare string would silently become a tuple of characters
            raise ValueError(f"driver {self.name!r}: tested_versions must be a tuple of versions, not {versions!r}")
        for version in versions:
            if not (isinstance(version, str) and _VERSION.match(version)):
                raise ValueError(f"driver {self.name!r}: tested version {version!r} is not a version like 1.2.3")
        if len(set(versions)) != len(versions):
            raise ValueError(f"driver {self.name!r}: tested_versions repeats a version: {versions!r}")
        # frozen means frozen: a list passed by the caller becomes a tuple nobody can append to later
        object.__setattr__(self, "tested_versions", tuple(versions))


@dataclass(frozen=True, slots=True)
class StateDetectorSpec:
    name: str
    detector: StateDetector


@dataclass(frozen=True, slots=True)
class SupervisorSpec:
    name: str
    supervisor: Supervisor
    description: str = ""


@dataclass(frozen=True, slots=True)
class DiscussionModeSpec:
    name: str
    mode: DiscussionMode
    description: str = ""


@dataclass(frozen=True, slots=True)
class NotifierSpec:
    name: str
    notifier: Notifier
    description: str = ""


@dataclass(frozen=True, slots=True)
class MemoryBackendSpec:
    name: str
    backend: MemoryBackend


@dataclass(frozen=True, slots=True)
class EmbedderSpec:
    name: str
    embedder: Embedder


@dataclass(frozen=True, slots=True)
class ContextProviderSpec:
    name: str
    provider: ContextProvider


@dataclass(frozen=True, slots=True)
class BlueprintSpec:
    """A server blueprint contributed by a plugin. ``factory`` returns a ``quart.Blueprint``."""

    name: str
    factory: Callable[[], Any]
    url_prefix: str | None = None


class SettingType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    SECRET = "secret"  # noqa: S105 - a setting type name, not a password


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """A setting a plugin declares: shown in ``imcodes doctor``, read from ``IMCODES_<NAME>`` or the config file."""

    name: str
    type: SettingType = SettingType.STRING
    default: str | int | bool | None = None
    description: str = ""
    choices: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A CLI command contributed by a plugin, added to the ``imcodes`` group in the ``section``."""

    name: str
    command: click.Command
    section: str = "Plugin commands"
