"""Render a new plugin package from the templates shipped in ``imcodes_core/templates/plugin`` (offline).

``common/`` is laid down for every kind, then ``<kind>/`` on top. ``*.tmpl`` files are ``string.Template``
texts; a ``__module__`` path part becomes the module name; ``_*`` files are fragments inserted into others.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from string import Template

from imcodes_core.specs import normalise_name

KINDS: dict[str, tuple[str, str, str]] = {
    # kind: (summary, the hook it implements, the PluginHost method that collects it)
    "driver": ("an agent driver", "imcodes_agent_drivers", "agent_drivers"),
    "detector": ("a keyword state detector", "imcodes_state_detectors", "state_detectors"),
    "mode": ("a round-robin discussion mode", "imcodes_discussion_modes", "discussion_modes"),
    "notifier": ("a notifier that appends to a file", "imcodes_notifiers", "notifiers"),
}
_DISTRIBUTION = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*$")
_PREFIX = "imcodes-"


class ScaffoldError(ValueError):
    """The name, kind or target folder cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class PluginNames:
    distribution: str  # imcodes-echo
    module: str  # imcodes_echo
    name: str  # echo: the entry point and the registered spec's name
    cls: str  # Echo: the prefix of the generated class names
    title: str  # Echo

    @classmethod
    def from_name(cls, raw: str) -> PluginNames:
        if not _DISTRIBUTION.match(raw):
            raise ScaffoldError(f"{raw!r} is not a distribution name: use letters, digits and '-', e.g. imcodes-echo")
        distribution = re.sub(r"[-_.]+", "-", raw).lower()
        short = distribution.removeprefix(_PREFIX) or distribution
        try:
            name = normalise_name(short)
        except ValueError as exc:
            raise ScaffoldError(str(exc)) from None
        module = distribution.replace("-", "_")
        if not module.isidentifier():
            raise ScaffoldError(f"{raw!r} gives the module name {module!r}, which Python cannot import")
        words = [w for w in re.split(r"[-_]", name) if w]
        return cls(distribution, module, name, "".join(w.capitalize() for w in words), " ".join(words).title())


def template_root() -> Traversable:
    return resources.files("imcodes_core").joinpath("templates", "plugin")


def render_plugin(raw_name: str, kind: str, directory: Path) -> Path:
    """Write the package for ``raw_name`` into ``directory/<distribution>`` and return that folder."""
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
    names = PluginNames.from_name(raw_name)
    target = directory.expanduser().resolve() / names.distribution
    if target.exists() and any(target.iterdir()):
        raise ScaffoldError(f"{target} already exists and is not empty")
    values = _values(names, kind)
    root = template_root()
    layers = [root.joinpath("common"), root.joinpath(kind)]
    values["about"] = _fragment(root.joinpath(kind), "_about.md.tmpl", values)
    files = {relative: source for layer in layers for relative, source in _walk(layer)}
    for relative, source in sorted(files.items()):
        destination = target / _destination(relative, names.module)
        destination.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")
        if relative.suffix == ".tmpl":
            text = _render(text, values, relative)
        destination.write_text(text, encoding="utf-8")
    return target


def _values(names: PluginNames, kind: str) -> dict[str, str]:
    summary, hook, host_method = KINDS[kind]
    version = _core_version()
    setting = names.name.replace("-", "_") + "_file"
    return {
        "distribution": names.distribution,
        "module": names.module,
        "name": names.name,
        "cls": names.cls,
        "title": names.title,
        "kind": kind,
        "summary": summary,
        "hook": hook,
        "host_method": host_method,
        "setting": setting,
        "env_var": f"IMCODES_{setting.upper()}",
        "core_requirement": f'"imcodes-core>={version}"' if version else '"imcodes-core"',
    }


def _core_version() -> str | None:
    try:
        version = metadata.version("imcodes-core")
    except metadata.PackageNotFoundError:
        return None
    return version if re.fullmatch(r"\d+(\.\d+)*", version) else None


def _walk(node: Traversable, prefix: PurePosixPath | None = None) -> Iterator[tuple[PurePosixPath, Traversable]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        relative = (prefix or PurePosixPath()) / child.name
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, relative)
        elif not child.name.startswith("_") or child.name.startswith("__"):
            yield relative, child


def _destination(relative: PurePosixPath, module: str) -> Path:
    parts = [module if part == "__module__" else part for part in relative.parts]
    parts[-1] = parts[-1].removesuffix(".tmpl")
    return Path(*parts)


def _fragment(layer: Traversable, name: str, values: dict[str, str]) -> str:
    source = layer.joinpath(name)
    return (
        _render(source.read_text(encoding="utf-8"), values, PurePosixPath(name)).strip() if source.is_file() else ""
    )


def _render(text: str, values: dict[str, str], relative: PurePosixPath) -> str:
    try:
        return Template(text).substitute(values)
    except (KeyError, ValueError) as exc:  # a template bug: name the file, never write half a package silently
        raise ScaffoldError(f"template {relative} cannot be rendered: {exc!r}") from None
