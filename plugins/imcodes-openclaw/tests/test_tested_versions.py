"""The driver declares its CLI and the version scripts/install-agent-clis.sh pins (its fixtures' version)."""

from __future__ import annotations

from pathlib import Path

import pytest
from imcodes_openclaw.plugin import imcodes_agent_drivers

from imcodes_core.specs import AgentDriverSpec
from imcodes_core.testing.agent_pins import find_install_script, read_pins


@pytest.fixture(params=["openclaw", "openclaw-acp"])
def spec(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> AgentDriverSpec:
    monkeypatch.delenv("IMCODES_OPENCLAW_BINARY", raising=False)  # the driver launches the CLI by its own name
    (declared,) = [s for s in imcodes_agent_drivers() if s.name == request.param]
    return declared


def test_declares_the_cli_it_launches_and_versions_it_was_tested_on(spec: AgentDriverSpec) -> None:
    assert spec.cli == "openclaw" and spec.driver.executable == spec.cli
    assert spec.tested_versions and all(v[0].isdigit() for v in spec.tested_versions)


def test_the_tested_version_is_the_install_scripts_pin(spec: AgentDriverSpec) -> None:
    script = find_install_script(Path(__file__).parent)
    if script is None:
        pytest.skip("no scripts/install-agent-clis.sh above this plugin (tested outside the repository)")
    pin = read_pins(script.read_text(encoding="utf-8")).get("openclaw")
    assert pin is not None, f"{script} pins no openclaw"
    assert spec.cli == pin.command
    assert spec.tested_versions[-1] == pin.version, (
        f"the driver says it was tested on {spec.tested_versions}, the install script pins {pin.version}: "
        "bump both together with the golden screens"
    )
