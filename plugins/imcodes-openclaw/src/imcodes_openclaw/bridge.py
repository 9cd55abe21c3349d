"""``python -m imcodes_openclaw.bridge``: ``openclaw acp`` with the OpenClaw Gateway it needs, as one process.

``openclaw acp`` is a bridge: ACP on its stdio, every prompt forwarded to an OpenClaw Gateway over WebSocket.
Without a Gateway it exits at once (2026.9.6: ``ACP bridge failed: connect ECONNREFUSED 127.0.0.1:18789``). So
the ``openclaw-acp`` transport runs this launcher, which the daemon speaks ACP to as if it were the bridge:

- ``--gateway auto`` (the default): when a Gateway answers ``/healthz`` on the port (the user's own service, or
  another session's), the bridge joins it; otherwise the launcher starts ``openclaw gateway run --bind loopback``
  on that port for this session, waits until ``/startupz`` answers 200, runs the bridge, and stops the Gateway
  when the bridge ends. A Gateway started without a configured token makes a runtime one and pairs the local CLI
  device itself, so no credential passes through here.
- ``--gateway external``: only the bridge (a remote Gateway from the user's config, or ``--url`` in the bridge
  arguments).

The Gateway's log goes to stderr (the daemon keeps its tail for error messages): stdout carries ACP only.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from types import FrameType

DEFAULT_PORT = 18789  # OpenClaw's own default (gateway.port)
READY_SECONDS = 90.0  # a cold Gateway start takes ~6 s here; a busy 2-core machine several times that
STOP_SECONDS = 10.0  # the Gateway drains and closes in ~1.5 s after SIGTERM
POLL_SECONDS = 0.2
PROBE_SECONDS = 1.0
GATEWAY_MODES = ("auto", "external")
# Keep the bridge's stdout pure ACP (OpenClaw's docs give these for ACP clients).
QUIET_ENV = {"OPENCLAW_HIDE_BANNER": "1", "OPENCLAW_SUPPRESS_NOTES": "1"}
# The child-Gateway preset of OpenClaw's "Embedding OpenClaw" guide: no LAN advertising, no detached respawn (we
# own its pid), and no messaging channels (a Gateway that lives for one imcodes session must not take over the
# user's Telegram or Slack bots; it also starts faster).
EMBEDDED_GATEWAY_ENV = {"OPENCLAW_DISABLE_BONJOUR": "1", "OPENCLAW_NO_RESPAWN": "1", "OPENCLAW_SKIP_CHANNELS": "1"}
CONFIG_FAILURE = 78  # EX_CONFIG: OpenClaw's exit status for an invalid config at Gateway startup


class GatewayError(RuntimeError):
    """The Gateway this session needed could not be started."""


def probe(port: int, path: str, timeout: float = PROBE_SECONDS) -> int | None:
    """The HTTP status of ``GET http://127.0.0.1:{port}{path}``, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError):
        return None


def gateway_argv(openclaw: str, port: int) -> list[str]:
    # --allow-unconfigured: a config without gateway.mode=local (never onboarded) is refused otherwise.
    # --bind loopback: in a container OpenClaw defaults to 0.0.0.0 and then refuses to start without auth.
    return [openclaw, "gateway", "run", "--bind", "loopback", "--port", str(port), "--allow-unconfigured"]


def bridge_argv(openclaw: str, acp_args: Sequence[str]) -> list[str]:
    return [openclaw, "acp", *acp_args]


def start_gateway(openclaw: str, port: int, env: Mapping[str, str], ready_seconds: float) -> subprocess.Popen[bytes]:
    """Start a Gateway on ``port`` and wait until it has started; its log goes to our stderr."""
    gateway = subprocess.Popen(
        gateway_argv(openclaw, port),
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr.fileno(),
        env={**env, **EMBEDDED_GATEWAY_ENV},
    )
    deadline = time.monotonic() + ready_seconds
    while probe(port, "/startupz") != 200:
        if gateway.poll() == CONFIG_FAILURE:
            raise GatewayError(
                f"the OpenClaw Gateway refused its config (exit status {CONFIG_FAILURE}): run"
                f" `{openclaw} doctor --fix` and start the session again"
            )
        if gateway.poll() is not None:
            raise GatewayError(f"the OpenClaw Gateway exited with status {gateway.returncode} before it was ready")
        if time.monotonic() > deadline:
            stop(gateway)
            raise GatewayError(f"the OpenClaw Gateway on port {port} was not ready within {ready_seconds:.0f} s")
        time.sleep(POLL_SECONDS)
    return gateway


def stop(process: subprocess.Popen[bytes], grace: float = STOP_SECONDS) -> int | None:
    """SIGTERM, wait ``grace`` seconds, SIGKILL; the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def run(openclaw: str, port: int, gateway_mode: str, acp_args: Sequence[str], ready_seconds: float) -> int:
    env = {**os.environ, **QUIET_ENV, "OPENCLAW_GATEWAY_PORT": str(port)}  # the bridge finds the Gateway by it
    gateway: subprocess.Popen[bytes] | None = None
    if gateway_mode == "auto" and probe(port, "/healthz") is None:
        print(f"imcodes: no OpenClaw Gateway on port {port}: starting one for this session", file=sys.stderr)
        gateway = start_gateway(openclaw, port, env, ready_seconds)
    bridge = subprocess.Popen(bridge_argv(openclaw, acp_args), env=env)  # stdin/stdout: the ACP channel

    def forward(signum: int, _frame: FrameType | None) -> None:  # the daemon stops the session
        for child in (bridge, gateway):
            if child is not None and child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        status = bridge.wait()
    finally:
        if bridge.poll() is None:
            stop(bridge)
        if gateway is not None:
            stop(gateway)
    return status


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m imcodes_openclaw.bridge", description=__doc__.split("\n")[0])
    parser.add_argument("--openclaw", default="openclaw", help="the OpenClaw executable")
    parser.add_argument("--port", type=int, default=0, help="the Gateway port (default: $OPENCLAW_GATEWAY_PORT)")
    parser.add_argument("--gateway", choices=GATEWAY_MODES, default="auto")
    parser.add_argument("--ready-seconds", type=float, default=READY_SECONDS)
    parser.add_argument("acp_args", nargs="*", help="after --: arguments for openclaw acp")
    return parser.parse_args(argv)


def gateway_port(requested: int, env: Mapping[str, str]) -> int:
    """``requested``, else ``$OPENCLAW_GATEWAY_PORT``, else OpenClaw's default."""
    if requested:
        return requested
    from_env = env.get("OPENCLAW_GATEWAY_PORT", "").strip()
    return int(from_env) if from_env.isdigit() else DEFAULT_PORT


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        return run(
            args.openclaw, gateway_port(args.port, os.environ), args.gateway, args.acp_args, args.ready_seconds
        )
    except (GatewayError, OSError) as exc:
        print(f"imcodes: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
