"""Test kit for plugin authors: contract tests, a fake terminal, a scripted fake agent, a fake model endpoint.

Import from the modules (nothing here imports them eagerly, because the pytest plugin loads this package in
every pytest run)::

    from imcodes_core.testing.contracts import AgentDriverContract, StateDetectorContract, run_discussion
    from imcodes_core.testing.terminal import FakeTerminal, render_capture
    from imcodes_core.testing.agent import ScriptedAgent, Turn, ScriptedAgentDriver, read_events
    from imcodes_core.testing.model_endpoint import FakeModelEndpoint
    from imcodes_core.testing.channels import RecordingChannelSink

The fixtures (``imcodes_host``, ``fake_model_endpoint``, ``tmux_socket``, ``fake_terminal``, ``imcodes_home``) come
from :mod:`imcodes_core.testing.pytest_plugin`, registered through the ``pytest11`` entry point. See
``docs/plugins/testing.md``.
"""
