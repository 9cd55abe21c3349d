"""``python -m imcodes_core.daemon --home DIR``: the daemon in the foreground (``imcodes daemon`` calls ``main``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from imcodes_core.redaction import SecretRegistry, install_redaction


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imcodes daemon", description="Run the imcodes daemon in the foreground.")
    parser.add_argument("--home", type=Path, default=None, help="imcodes home (default: $IMCODES_HOME or ~/.imcodes)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    args = parser.parse_args(argv)

    from imcodes_core.daemon.config import DaemonConfig
    from imcodes_core.daemon.lifecycle import AlreadyRunningError, Daemon
    from imcodes_core.host import make_plugin_host

    secrets = SecretRegistry()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s imcodes-daemon %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(str(args.log_level).upper())
    install_redaction(secrets)

    config = DaemonConfig.create(args.home)
    daemon = Daemon(config, make_plugin_host(), secrets=secrets)
    try:
        asyncio.run(daemon.serve())
    except AlreadyRunningError as exc:
        print(f"imcodes daemon: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
