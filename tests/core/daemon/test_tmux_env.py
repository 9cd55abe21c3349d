"""The environment the daemon's tmux server (and so every agent) starts with."""

from __future__ import annotations

import pytest

from imcodes_core.daemon.tmux import tmux_env


def test_ci_markers_and_the_users_tmux_do_not_reach_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    # With CI=true an Ink TUI (Gemini CLI) never paints its screen: seen when the test suite ran under CI=true.
    for key, value in {"CI": "true", "CONTINUOUS_INTEGRATION": "1", "TMUX": "/tmp/x,1,0", "TMUX_PANE": "%1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("IMCODES_KEEP_ME", "yes")
    env = tmux_env()
    assert not {"CI", "CONTINUOUS_INTEGRATION", "TMUX", "TMUX_PANE"} & env.keys()
    assert env["IMCODES_KEEP_ME"] == "yes"
