"""Every hook imcodes calls. The one contract between the core and its plugins.

pluggy is synchronous, so hooks only *register* things or make cheap decisions; all async work lives on the
objects they return. Registration hooks return an iterable of frozen ``...Spec`` records which the
:class:`~imcodes_core.host.PluginHost` validates (names normalised, duplicates rejected naming both distributions).
Plugins never call hooks themselves; only ``PluginHost`` touches ``pm.hook``.

A plugin implements a hook with :data:`hookimpl`::

    from imcodes_core import hookimpl

    @hookimpl
    def imcodes_agent_drivers():
        return [AgentDriverSpec(name="toy", driver=ToyDriver())]

``docs/plugins/hooks.md`` documents each hook with its exact signature; a test fails when they drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pluggy

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
)

PROJECT_NAME = "imcodes"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def imcodes_agent_drivers() -> Iterable[AgentDriverSpec]:
    """Register agent drivers (how to launch an agent, deliver input, and what it can do).

    Called: in the daemon at start-up and by ``imcodes doctor`` / ``imcodes plugins list``; once per process.
    Sync: yes; return specs whose ``driver`` objects do the work.

    Example::

        @hookimpl
        def imcodes_agent_drivers():
            return [AgentDriverSpec(name="claude", driver=ClaudeDriver(), kind=DriverKind.PROCESS)]
    """


@hookspec
def imcodes_state_detectors() -> Iterable[StateDetectorSpec]:
    """Register state detectors: pure functions from an ``Observation`` to a ``StateReading``.

    Called: in the daemon at start-up; the detectors then run on every screen change or agent event, and the
    core's arbiter combines their readings into one verdict with evidence.
    Sync: yes (and ``detector.read`` is sync and must be cheap).

    Example::

        @hookimpl
        def imcodes_state_detectors():
            return [StateDetectorSpec(name="claude-screen", detector=ClaudeScreenDetector())]
    """


@hookspec
def imcodes_supervisors() -> Iterable[SupervisorSpec]:
    """Register supervisors that judge a completed turn: complete, continue or ask_human.

    Called: in the daemon at start-up; ``supervisor.judge(turn)`` is awaited after each finished turn of a
    supervised session, with a timeout.
    Sync: the hook is sync; ``judge`` is awaitable.

    Example::

        @hookimpl
        def imcodes_supervisors():
            return [SupervisorSpec(name="strict", supervisor=StrictSupervisor())]
    """


@hookspec
def imcodes_discussion_modes() -> Iterable[DiscussionModeSpec]:
    """Register discussion modes (audit, review, plan, ...) driven through the step API.

    Called: in the daemon at start-up; the core calls ``mode.next_step(state)`` and does all I/O itself.
    Sync: yes, and ``next_step`` is sync and pure.

    Example::

        @hookimpl
        def imcodes_discussion_modes():
            return [DiscussionModeSpec(name="debate", mode=DebateMode())]
    """


@hookspec
def imcodes_notifiers() -> Iterable[NotifierSpec]:
    """Register notifiers (Web Push, APNs, FCM, desktop, log).

    Called: in the server (and the daemon for desktop notifications) at start-up; ``notifier.notify`` is
    awaited for each notification, every notifier isolated from the others and bounded by a timeout.
    Sync: the hook is sync; ``notify`` is awaitable.

    Example::

        @hookimpl
        def imcodes_notifiers():
            return [NotifierSpec(name="log", notifier=LogNotifier())]
    """


@hookspec
def imcodes_memory_backends() -> Iterable[MemoryBackendSpec]:
    """Register memory backends that store summaries of past work and recall them.

    Called: in the server at start-up. Sync: the hook is sync; ``store`` and ``recall`` are awaitable.

    Example::

        @hookimpl
        def imcodes_memory_backends():
            return [MemoryBackendSpec(name="pgvector", backend=PgVectorMemory())]
    """


@hookspec
def imcodes_embedders() -> Iterable[EmbedderSpec]:
    """Register text embedders used by memory backends.

    Called: in the server at start-up. Sync: the hook is sync; ``embed`` is awaitable.

    Example::

        @hookimpl
        def imcodes_embedders():
            return [EmbedderSpec(name="minilm", embedder=MiniLMEmbedder())]
    """


@hookspec
def imcodes_context_providers() -> Iterable[ContextProviderSpec]:
    """Register context providers: what gets injected into an outgoing prompt.

    Called: in the daemon at start-up; ``provider.context_for(prompt)`` is awaited before a prompt is sent,
    with a time budget, and a provider that fails or is late is skipped.
    Sync: the hook is sync; ``context_for`` is awaitable.

    Example::

        @hookimpl
        def imcodes_context_providers():
            return [ContextProviderSpec(name="memory", provider=MemoryContext())]
    """


@hookspec
def imcodes_cli_commands() -> Iterable[CommandSpec]:
    """Contribute commands to the ``imcodes`` CLI.

    Called: by the CLI when it builds its command group; a plugin that fails here is reported by
    ``imcodes plugins list`` and its commands are left out. Sync: yes.

    Example::

        @hookimpl
        def imcodes_cli_commands():
            return [CommandSpec(name="hello", command=hello_command)]
    """


@hookspec
def imcodes_server_blueprints() -> Iterable[BlueprintSpec]:
    """Contribute Quart blueprints to the server.

    Called: in ``create_app(config)``, once per app. Sync: yes; the blueprint's routes are async.

    Example::

        @hookimpl
        def imcodes_server_blueprints():
            return [BlueprintSpec(name="stats", factory=make_stats_blueprint, url_prefix="/api/stats")]
    """


@hookspec
def imcodes_settings() -> Iterable[SettingSpec]:
    """Declare settings the plugin reads (shown by ``imcodes doctor``; read from ``IMCODES_<NAME>``).

    Called: by the CLI, the daemon and the server at start-up. Sync: yes.

    Example::

        @hookimpl
        def imcodes_settings():
            return [SettingSpec(name="claude_binary", default="claude", description="Claude Code executable")]
    """


@hookspec(firstresult=True)
def imcodes_session_env(driver: str, session: str, env: Mapping[str, str]) -> Mapping[str, str] | None:
    """Adjust the environment of a session about to be launched; the first non-None result wins.

    Called: in the daemon, once per launch, after the driver's plan is made. Sync: yes (cheap).

    Example::

        @hookimpl
        def imcodes_session_env(driver, session, env):
            return {**env, "NO_COLOR": "1"} if driver == "shell" else None
    """


@hookspec
def imcodes_plugin_loaded(name: str, info: Mapping[str, Any]) -> None:
    """Observe that a plugin was loaded (name and status record); for tracing and diagnostics.

    Called: by the plugin host after each plugin registers, in any process. Sync: yes; must not raise.

    Example::

        @hookimpl
        def imcodes_plugin_loaded(name, info):
            logging.getLogger("mine").debug("loaded %s", name)
    """
