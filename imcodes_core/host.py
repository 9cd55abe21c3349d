"""The plugin host: the only code that touches ``pm.hook``.

``make_plugin_host()`` builds a :class:`PluginHost`: the built-in plugins are registered first, then every entry
point in the group ``imcodes`` is loaded in its own ``try``/``except`` so that a broken plugin is reported, not
fatal. Environment switches:

- ``IMCODES_LOAD_PLUGINS=a,b``: load only these entry points (built-ins always load);
- ``IMCODES_DISABLE_PLUGINS=a,b``: skip these (built-ins too, by name);
- ``IMCODES_TRACE_PLUGINS=1``: trace every hook call to stderr;
- ``IMCODES_STRICT_PLUGINS=1``: any load error, misspelled hook implementation or invalid spec raises
  :class:`PluginError` at once (CI runs strict).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import metadata
from types import ModuleType
from typing import Any, TypeVar

import pluggy

from imcodes_core import hookspecs
from imcodes_core.specs import (
    AgentDriverSpec,
    BlueprintSpec,
    CommandSpec,
    ContextProviderSpec,
    DiscussionModeSpec,
    EmbedderSpec,
    MemoryBackendSpec,
    NotifierSpec,
    SettingSpec,
    StateDetectorSpec,
    SupervisorSpec,
    normalise_name,
)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "imcodes"
BUILTIN_DISTRIBUTION = "imcodes-core"
_TRUE = {"1", "true", "yes", "on"}


class PluginError(RuntimeError):
    """A plugin failed to load or registered something invalid (raised only in strict mode)."""


class PluginStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    DISABLED = "disabled"


@dataclass(slots=True)
class PluginRecord:
    name: str
    distribution: str
    version: str
    builtin: bool = False
    status: PluginStatus = PluginStatus.OK
    hooks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "hooks": sorted(self.hooks),
            "status": str(self.status),
            "error": "; ".join(self.errors) or None,
        }


@dataclass(frozen=True, slots=True)
class PluginSettings:
    load_only: frozenset[str] | None = None
    disabled: frozenset[str] = frozenset()
    trace: bool = False
    strict: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PluginSettings:
        env = os.environ if env is None else env

        def names(key: str) -> frozenset[str]:
            return frozenset(n.strip() for n in env.get(key, "").split(",") if n.strip())

        return cls(
            load_only=names("IMCODES_LOAD_PLUGINS") or None,
            disabled=names("IMCODES_DISABLE_PLUGINS"),
            trace=env.get("IMCODES_TRACE_PLUGINS", "").lower() in _TRUE,
            strict=env.get("IMCODES_STRICT_PLUGINS", "").lower() in _TRUE,
        )


SpecT = TypeVar("SpecT")


class PluginHost:
    """A typed facade over the plugin manager: collects and validates what plugins register."""

    def __init__(self, settings: PluginSettings | None = None) -> None:
        self.settings = settings or PluginSettings()
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._records: dict[str, PluginRecord] = {}
        self._cache: dict[str, list[Any]] = {}
        if self.settings.trace:
            self._pm.trace.root.setwriter(sys.stderr.write)
            self._pm.enable_tracing()

    # -- loading -------------------------------------------------------------------------------------------------

    def register(
        self,
        plugin: ModuleType | object,
        name: str,
        *,
        distribution: str = BUILTIN_DISTRIBUTION,
        version: str = "",
        builtin: bool = False,
    ) -> PluginRecord:
        record = PluginRecord(name, distribution, version or _version_of(distribution), builtin)
        self._records[name] = record
        if name in self.settings.disabled:
            record.status = PluginStatus.DISABLED
            return record
        try:
            self._pm.register(plugin, name=name)
            self._check_misspelled(plugin, name)
        except Exception as exc:  # a broken plugin must never brick the host
            self._fail(record, f"cannot register: {exc}")
            return record
        record.hooks = [impl_name for impl_name in _hook_names(self._pm, plugin)]
        self._cache.clear()
        self._call_observers(record)
        return record

    def load_entry_points(self, entry_points: Iterable[metadata.EntryPoint] | None = None) -> None:
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP) if entry_points is None else entry_points
        for ep in sorted(eps, key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else ""
            if ep.name in self._records:
                self._fail(
                    PluginRecord(ep.name, dist, version),
                    f"plugin name {ep.name!r} from {dist} is already registered by "
                    f"{self._records[ep.name].distribution}",
                    keep=False,
                )
                continue
            if self.settings.load_only is not None and ep.name not in self.settings.load_only:
                self._records[ep.name] = PluginRecord(ep.name, dist, version, status=PluginStatus.DISABLED)
                continue
            if ep.name in self.settings.disabled:
                self._records[ep.name] = PluginRecord(ep.name, dist, version, status=PluginStatus.DISABLED)
                continue
            try:
                module = ep.load()
            except Exception as exc:  # report the broken plugin, keep going
                record = PluginRecord(ep.name, dist, version)
                self._records[ep.name] = record
                self._fail(record, f"import failed: {type(exc).__name__}: {exc}")
                continue
            self.register(module, ep.name, distribution=dist, version=version)

    def _fail(self, record: PluginRecord, message: str, *, keep: bool = True) -> None:
        record.status = PluginStatus.ERROR
        record.errors.append(message)
        if keep:
            self._records[record.name] = record
        else:
            self._records.setdefault(f"{record.name}@{record.distribution}", record)
        log.warning("plugin %s (%s): %s", record.name, record.distribution, message)
        if self.settings.strict:
            raise PluginError(f"plugin {record.name} ({record.distribution}): {message}")

    def _check_misspelled(self, plugin: object, name: str) -> None:
        """Strict mode: a hookimpl with no matching spec, or an ``imcodes_*`` function that is not a hook."""
        if not self.settings.strict:
            return
        self._pm.check_pending()
        known = set(self._pm.hook.__dict__)
        for attr in dir(plugin):
            if attr.startswith("imcodes_") and callable(getattr(plugin, attr)) and attr not in known:
                raise pluggy.PluginValidationError(plugin, f"unknown hook {attr!r} in plugin {name!r}")

    def _call_observers(self, record: PluginRecord) -> None:
        try:
            self._pm.hook.imcodes_plugin_loaded(name=record.name, info=record.to_dict())
        except Exception as exc:  # an observer must not break loading
            log.warning("imcodes_plugin_loaded observer failed: %s", exc)

    # -- introspection -------------------------------------------------------------------------------------------

    @property
    def plugins(self) -> list[PluginRecord]:
        return list(self._records.values())

    def plugin(self, name: str) -> PluginRecord | None:
        return self._records.get(name)

    # -- collecting specs ----------------------------------------------------------------------------------------

    def _collect(self, hook_name: str, spec_type: type[SpecT], key: Callable[[SpecT], str]) -> list[SpecT]:
        """Call one registration hook, one implementation at a time, so a failure is blamed on its plugin.

        Results from ``trylast`` built-ins may be overridden by a plugin registering the same name; two
        ordinary plugins registering the same name is an error naming both distributions.
        """
        if hook_name in self._cache:
            return list(self._cache[hook_name])
        hook = getattr(self._pm.hook, hook_name)
        chosen: dict[str, tuple[SpecT, PluginRecord, bool]] = {}
        for impl in reversed(hook.get_hookimpls()):  # pluggy's own call order
            record = self._record_for(impl.plugin_name)
            try:
                result = impl.function()
                specs = list(result or ())
            except Exception as exc:
                self._fail(record, f"{hook_name} raised {type(exc).__name__}: {exc}")
                continue
            for spec in specs:
                if not isinstance(spec, spec_type):
                    self._fail(record, f"{hook_name} returned {type(spec).__name__}, expected {spec_type.__name__}")
                    continue
                try:
                    name = normalise_name(key(spec))
                except ValueError as exc:
                    self._fail(record, f"{hook_name}: {exc}")
                    continue
                previous = chosen.get(name)
                if previous is None:
                    chosen[name] = (spec, record, bool(impl.trylast))
                elif previous[2]:
                    continue  # the earlier one overrides a trylast fallback registered under the same name
                elif impl.trylast:
                    continue
                else:
                    self._fail(
                        record,
                        f"{hook_name}: duplicate name {name!r} registered by {record.distribution} "
                        f"and {previous[1].distribution}",
                    )
        values = [spec for spec, _, _ in chosen.values()]
        self._cache[hook_name] = values
        return list(values)

    def _record_for(self, plugin_name: str) -> PluginRecord:
        record = self._records.get(plugin_name)
        if record is None:
            record = PluginRecord(plugin_name, "unknown", "")
            self._records[plugin_name] = record
        return record

    def agent_drivers(self) -> list[AgentDriverSpec]:
        return self._collect("imcodes_agent_drivers", AgentDriverSpec, lambda s: s.name)

    def agent_driver(self, name: str) -> AgentDriverSpec:
        wanted = normalise_name(name)
        for spec in self.agent_drivers():
            if normalise_name(spec.name) == wanted:
                return spec
        known = ", ".join(sorted(s.name for s in self.agent_drivers())) or "none"
        raise KeyError(f"no agent driver named {name!r} (known: {known})")

    def state_detectors(self) -> list[StateDetectorSpec]:
        return self._collect("imcodes_state_detectors", StateDetectorSpec, lambda s: s.name)

    def supervisors(self) -> list[SupervisorSpec]:
        return self._collect("imcodes_supervisors", SupervisorSpec, lambda s: s.name)

    def discussion_modes(self) -> list[DiscussionModeSpec]:
        return self._collect("imcodes_discussion_modes", DiscussionModeSpec, lambda s: s.name)

    def notifiers(self) -> list[NotifierSpec]:
        return self._collect("imcodes_notifiers", NotifierSpec, lambda s: s.name)

    def memory_backends(self) -> list[MemoryBackendSpec]:
        return self._collect("imcodes_memory_backends", MemoryBackendSpec, lambda s: s.name)

    def embedders(self) -> list[EmbedderSpec]:
        return self._collect("imcodes_embedders", EmbedderSpec, lambda s: s.name)

    def context_providers(self) -> list[ContextProviderSpec]:
        return self._collect("imcodes_context_providers", ContextProviderSpec, lambda s: s.name)

    def cli_commands(self) -> list[CommandSpec]:
        return self._collect("imcodes_cli_commands", CommandSpec, lambda s: s.name)

    def server_blueprints(self) -> list[BlueprintSpec]:
        return self._collect("imcodes_server_blueprints", BlueprintSpec, lambda s: s.name)

    def settings_specs(self) -> list[SettingSpec]:
        return self._collect("imcodes_settings", SettingSpec, lambda s: s.name)

    def session_env(self, driver: str, session: str, env: Mapping[str, str]) -> dict[str, str]:
        try:
            result = self._pm.hook.imcodes_session_env(driver=driver, session=session, env=env)
        except Exception as exc:
            log.warning("imcodes_session_env failed, launching with the driver's environment: %s", exc)
            return dict(env)
        return dict(env if result is None else result)


def _hook_names(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    callers = pm.get_hookcallers(plugin) or []
    return [caller.name for caller in callers]


def _version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def make_plugin_host(
    settings: PluginSettings | None = None,
    *,
    entry_points: Iterable[metadata.EntryPoint] | None = None,
    load_entry_points: bool = True,
) -> PluginHost:
    """Build a host: built-ins first, then entry points (unless ``load_entry_points`` is False, for tests)."""
    from imcodes_core.builtins import BUILTIN_PLUGINS

    host = PluginHost(settings or PluginSettings.from_env())
    for name, module in BUILTIN_PLUGINS():
        host.register(module, name, builtin=True)
    if load_entry_points:
        host.load_entry_points(entry_points)
    return host
