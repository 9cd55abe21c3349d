"""pytest fixtures for imcodes plugins (registered through the ``pytest11`` entry point of imcodes-core).

This module loads in every pytest run of an environment holding imcodes-core, so it imports nothing but pytest
and the standard library at import time; each fixture imports what it needs when it is used.

- ``imcodes_host``: a :class:`~imcodes_core.host.PluginHost` with the built-ins and every installed plugin;
- ``fake_model_endpoint``: a running :class:`~imcodes_core.testing.model_endpoint.FakeModelEndpoint` on loopback;
- ``tmux_socket``: a unique private tmux socket name (``tmux -L NAME``), exported as ``IMCODES_TMUX_SOCKET``;
  its server is killed at teardown; the test is skipped when tmux is not installed;
- ``fake_terminal``: a 120x40 :class:`~imcodes_core.testing.terminal.FakeTerminal`;
- ``imcodes_home``: an empty temporary ``IMCODES_HOME``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from imcodes_core.host import PluginHost
    from imcodes_core.testing.model_endpoint import FakeModelEndpoint
    from imcodes_core.testing.terminal import FakeTerminal


@pytest.fixture
def imcodes_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "imcodes-home"
    home.mkdir()
    monkeypatch.setenv("IMCODES_HOME", str(home))
    return home


@pytest.fixture
def imcodes_host() -> PluginHost:
    from imcodes_core.host import make_plugin_host

    return make_plugin_host()


@pytest.fixture
def fake_model_endpoint() -> Iterator[FakeModelEndpoint]:
    from imcodes_core.testing.model_endpoint import FakeModelEndpoint

    with FakeModelEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def fake_terminal() -> FakeTerminal:
    from imcodes_core.testing.terminal import FakeTerminal

    return FakeTerminal(120, 40)


@pytest.fixture
def tmux_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed")
    name = f"imcodes-test-{os.getpid()}-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("IMCODES_TMUX_SOCKET", name)
    monkeypatch.delenv("TMUX", raising=False)  # a test run inside tmux must not talk to the developer's server
    try:
        yield name
    finally:
        subprocess.run([tmux, "-L", name, "kill-server"], capture_output=True, timeout=10, check=False)
