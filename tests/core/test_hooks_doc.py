"""docs/plugins/hooks.md documents every hook in imcodes_core/hookspecs.py with its exact signature.

Adding a hookspec without documenting it, or changing a signature without updating the reference, fails here.
"""

from __future__ import annotations

import inspect
import re
import textwrap
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy
import pytest

from imcodes_core import hookspecs
from imcodes_core.host import PluginHost, PluginSettings, PluginStatus

HOOKS_MD = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "hooks.md"
_SPEC_MARK = f"{hookspecs.PROJECT_NAME}_spec"  # the attribute pluggy's HookspecMarker sets
_HEADING = re.compile(r"^#{2,4} (imcodes_\w+)\s*$", re.MULTILINE)
_PYTHON_BLOCK = re.compile(r"```python\n(?P<body>.*?)```", re.DOTALL)


class _Written:
    """An annotation shown as written in the source (``from __future__ import annotations`` keeps strings)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _as_written(annotation: Any) -> Any:
    return _Written(annotation) if isinstance(annotation, str) else annotation


def signature_line(function: Callable[..., Any]) -> str:
    """``def name(params) -> return`` as ``inspect.signature`` renders it, annotations as written."""
    signature = inspect.signature(function)
    parameters = [p.replace(annotation=_as_written(p.annotation)) for p in signature.parameters.values()]
    rendered = signature.replace(parameters=parameters, return_annotation=_as_written(signature.return_annotation))
    return f"def {function.__name__}{rendered}"


def hookspecs_of(module: types.ModuleType) -> dict[str, Callable[..., Any]]:
    return {
        name: value
        for name, value in vars(module).items()
        if callable(value) and getattr(value, _SPEC_MARK, None) is not None
    }


def documentation_problems(module: types.ModuleType, text: str) -> list[str]:
    """What is wrong between a hookspec module and its reference text; empty when they agree."""
    specs = hookspecs_of(module)
    documented = set(_HEADING.findall(text))
    problems = []
    for name, function in sorted(specs.items()):
        if name not in documented:
            problems.append(f"{name}: no '### {name}' section")
        line = signature_line(function)
        if line not in text:
            problems.append(f"{name}: the exact signature is missing: {line}")
        if getattr(function, _SPEC_MARK).get("firstresult") and not _section(text, name).count("firstresult"):
            problems.append(f"{name}: is firstresult, and its section does not say so")
    problems.extend(f"{name}: documented, but there is no such hookspec" for name in sorted(documented - set(specs)))
    return problems


def _section(text: str, name: str) -> str:
    start = text.find(f"### {name}\n")
    if start < 0:
        return ""
    following = _HEADING.search(text, start + 4 + len(name))
    return text[start : following.start() if following else len(text)]


# -- the real reference ------------------------------------------------------------------------------------------


def test_every_hookspec_is_documented_with_its_exact_signature() -> None:
    problems = documentation_problems(hookspecs, HOOKS_MD.read_text(encoding="utf-8"))
    assert not problems, "docs/plugins/hooks.md is out of date:\n" + "\n".join(problems)


def test_the_reference_covers_a_real_number_of_hooks() -> None:
    # guards the checker itself: if it found no hookspecs, the test above would pass vacuously
    assert len(hookspecs_of(hookspecs)) >= 13
    assert len(_examples()) >= 13
    assert signature_line(hookspecs.imcodes_session_env) == (
        "def imcodes_session_env(driver: str, session: str, env: Mapping[str, str]) -> Mapping[str, str] | None"
    )


def test_every_section_says_where_and_sync_and_has_an_example() -> None:
    text = HOOKS_MD.read_text(encoding="utf-8")
    for name in hookspecs_of(hookspecs):
        section = _section(text, name)
        assert "**Called:**" in section, f"{name}: say where and when it is called"
        assert "sync" in section.lower(), f"{name}: say whether it is sync or awaitable"
        assert f"def {name}(" in section.split("```python", 2)[-1], f"{name}: give an example implementation"


def _examples() -> list[str]:
    return [b for b in _PYTHON_BLOCK.findall(HOOKS_MD.read_text(encoding="utf-8")) if "@hookimpl" in b]


@pytest.mark.parametrize("number", range(len(_examples())))
def test_examples_register_through_a_strict_host(number: int) -> None:
    """Every example with a hookimpl is a working plugin module: it registers and its specs validate."""
    body = _examples()[number]
    module = types.ModuleType(f"hooks_md_example_{number}")
    exec(compile(textwrap.dedent(body), f"hooks.md example {number}", "exec"), module.__dict__)
    host = PluginHost(PluginSettings(strict=True))
    record = host.register(module, f"example-{number}", distribution="hooks-md")
    assert record.status is PluginStatus.OK, record.errors
    assert record.hooks, "the example implements no hook"
    for collect in (
        host.agent_drivers,
        host.state_detectors,
        host.supervisors,
        host.discussion_modes,
        host.notifiers,
        host.memory_backends,
        host.embedders,
        host.context_providers,
        host.cli_commands,
        host.server_blueprints,
        host.settings_specs,
    ):
        collect()  # strict: an invalid spec raises PluginError
    assert record.status is PluginStatus.OK, record.errors


# -- the checker fails when it should ----------------------------------------------------------------------------


def _fake_spec_module() -> types.ModuleType:
    """A spec module with one documented hook and one added without documentation."""
    spec = pluggy.HookspecMarker(hookspecs.PROJECT_NAME)
    source = textwrap.dedent(
        '''
        from __future__ import annotations
        from collections.abc import Iterable

        @spec
        def imcodes_documented(name: str, count: int = 1) -> Iterable[str]:
            """Documented."""

        @spec(firstresult=True)
        def imcodes_added_later(session: str) -> str | None:
            """Someone forgot the reference."""

        def not_a_hook() -> None:
            pass
        '''
    )
    module = types.ModuleType("fake_hookspecs")
    module.__dict__["spec"] = spec
    exec(compile(source, "fake_hookspecs.py", "exec"), module.__dict__)
    return module


FAKE_DOC = """
### imcodes_documented

```python
def imcodes_documented(name: str, count: int = 1) -> Iterable[str]
```
"""


def test_the_checker_reports_an_undocumented_hookspec() -> None:
    problems = documentation_problems(_fake_spec_module(), FAKE_DOC)
    assert problems == [
        "imcodes_added_later: no '### imcodes_added_later' section",
        "imcodes_added_later: the exact signature is missing: def imcodes_added_later(session: str) -> str | None",
        "imcodes_added_later: is firstresult, and its section does not say so",
    ]


def test_the_checker_reports_a_drifted_signature() -> None:
    drifted = FAKE_DOC.replace("count: int = 1", "count: int = 2")
    problems = documentation_problems(_fake_spec_module(), drifted)
    assert any(p.startswith("imcodes_documented: the exact signature is missing: ") for p in problems), problems


def test_the_checker_reports_a_documented_hook_that_does_not_exist() -> None:
    doc = FAKE_DOC + "\n### imcodes_removed_long_ago\n"
    assert "imcodes_removed_long_ago: documented, but there is no such hookspec" in documentation_problems(
        _fake_spec_module(), doc
    )


def test_the_checker_accepts_a_complete_reference() -> None:
    complete = FAKE_DOC + (
        "\n### imcodes_added_later\n\n```python\ndef imcodes_added_later(session: str) -> str | None\n```\n"
        "firstresult: the first non-None answer wins.\n"
    )
    assert documentation_problems(_fake_spec_module(), complete) == []
