"""The launcher's own decisions, with real processes and sockets (the real Gateway is in tests/core/acp)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from imcodes_openclaw import bridge


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_port_is_the_setting_then_openclaws_variable_then_its_default() -> None:
    assert bridge.gateway_port(19001, {"OPENCLAW_GATEWAY_PORT": "19002"}) == 19001
    assert bridge.gateway_port(0, {"OPENCLAW_GATEWAY_PORT": "19002"}) == 19002
    assert bridge.gateway_port(0, {"OPENCLAW_GATEWAY_PORT": "nope"}) == bridge.DEFAULT_PORT == 18789


def test_the_gateway_is_local_only_and_the_bridge_gets_its_arguments() -> None:
    assert bridge.gateway_argv("oc", 19001) == [
        "oc", "gateway", "run", "--bind", "loopback", "--port", "19001", "--allow-unconfigured"
    ]  # fmt: skip
    assert bridge.bridge_argv("oc", ["--verbose"]) == ["oc", "acp", "--verbose"]
    args = bridge.parse(["--openclaw", "/x/oc", "--port", "5", "--gateway", "external", "--", "--url", "ws://h"])
    assert (args.openclaw, args.port, args.gateway, args.acp_args) == ("/x/oc", 5, "external", ["--url", "ws://h"])


def test_nothing_answers_on_a_free_port() -> None:
    assert bridge.probe(free_port(), "/healthz", timeout=0.5) is None


def test_a_gateway_that_dies_before_it_is_ready_is_reported_with_its_status(tmp_path: Path) -> None:
    fails = tmp_path / "openclaw"
    fails.write_text("#!/bin/sh\necho 'gateway failed to start' >&2\nexit 3\n", encoding="utf-8")
    fails.chmod(0o755)
    with pytest.raises(bridge.GatewayError, match="exited with status 3 before it was ready"):
        bridge.start_gateway(str(fails), free_port(), {"PATH": "/usr/bin:/bin"}, ready_seconds=20)


def test_an_openclaw_that_is_missing_is_a_clear_failure_of_the_launcher(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "imcodes_openclaw.bridge", "--openclaw", str(tmp_path / "none"), "--port",
         str(free_port()), "--ready-seconds", "5"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""  # stdout is the ACP channel: nothing else on it
    assert "starting one for this session" in done.stderr and "No such file" in done.stderr
