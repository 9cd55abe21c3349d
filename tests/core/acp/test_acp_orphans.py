"""An ACP agent does not outlive a daemon that died without stopping it (SIGKILL, a crash): the next daemon adopts
the session by starting the agent again on its conversation, and an orphan would keep working beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from .test_acp_peer import AGENT, pid_alive

OWNER = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    from imcodes_core.acp import AcpSession

    async def main():
        # like qwen, an agent that stays when its stdin closes: the shell waits on after tiny_agent.py ends
        line = f"{sys.executable} {sys.argv[1]}; exec sleep 30"
        session = AcpSession.spawn(["sh", "-c", line], cwd=Path.cwd(), env=dict(os.environ))
        await session.start()
        await session.initialize()
        print(session.connection.pid, flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def test_the_agent_gets_sigterm_when_its_owner_is_killed(tmp_path: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(AGENT)], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        agent = int(owner.stdout.readline())
        assert pid_alive(agent)
        owner.send_signal(signal.SIGKILL)  # no chance to close anything
        owner.wait(10)
        deadline = time.monotonic() + 5
        while pid_alive(agent) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(agent), "the agent outlived the daemon that started it"
    finally:
        owner.kill()
        owner.wait(10)
        if owner.stdout is not None:
            owner.stdout.close()
        if "agent" in locals() and pid_alive(agent):
            os.kill(agent, signal.SIGKILL)
