"""``imcodes doctor`` against real programs in a temporary agent-CLI folder, a temporary home, a loopback server."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from imcodes_core.cli import doctor, make_cli
from imcodes_core.cli.doctor import AGENT_CLIS, Mark, check_agent_clis, check_data_dir, check_server_link
from imcodes_core.host import PluginSettings, make_plugin_host

TOKEN = "tok_doctor_secret_1234567890"


def write_program(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / name
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(0o755)
    return program


@pytest.fixture
def agent_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """IMCODES_AGENT_CLI_DIR with real (shell) programs in node_modules/.bin; PATH holds only tmux's folder."""
    folder = tmp_path / "agent-clis"
    monkeypatch.setenv("IMCODES_AGENT_CLI_DIR", str(folder))
    tmux = shutil.which("tmux")
    monkeypatch.setenv("PATH", str(Path(tmux).parent) if tmux else str(tmp_path / "empty"))
    return folder


@pytest.fixture
def health_server() -> Iterator[str]:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/api/health" else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def link(home: Path, server: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "link.json").write_text(json.dumps({"server": server, "token": TOKEN, "machine": "m-1"}))


def test_agent_clis_found_in_the_agent_folder_with_versions(agent_dir: Path) -> None:
    bin_dir = agent_dir / "node_modules" / ".bin"
    write_program(bin_dir, "claude", 'echo "2.1.0 (Claude Code)"')
    write_program(bin_dir, "codex", "echo codex-cli 0.9.1 >&2")  # some CLIs print their version on stderr
    write_program(bin_dir, "gemini", "echo boom >&2; exit 3")
    checks = {c.name: c for c in check_agent_clis(dict(os.environ))}
    assert set(checks) == set(AGENT_CLIS)
    assert checks["claude"].mark is Mark.OK and checks["claude"].detail.startswith("2.1.0 (Claude Code) (")
    assert checks["codex"].mark is Mark.OK and "codex-cli 0.9.1" in checks["codex"].detail
    assert checks["gemini"].mark is Mark.WARN and "exited 3: boom" in checks["gemini"].detail
    assert checks["qwen"].mark is Mark.WARN and checks["qwen"].hint == "npm install -g @qwen-code/qwen-code"


def test_versions_are_asked_concurrently_and_bounded(agent_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "VERSION_TIMEOUT", 1.5)
    for name in ("claude", "codex", "gemini", "opencode", "qwen"):
        write_program(agent_dir / "bin", name, f"sleep 0.8; echo {name} 1.0")
    write_program(agent_dir / "bin", "openclaw", "exec sleep 30")
    started = time.monotonic()
    checks = {c.name: c for c in check_agent_clis(dict(os.environ))}
    elapsed = time.monotonic() - started
    assert elapsed < 3.5, f"took {elapsed:.1f} s: not concurrent, or the timeout did not hold"
    assert all(checks[n].mark is Mark.OK for n in ("claude", "codex", "gemini", "opencode", "qwen"))
    assert checks["openclaw"].mark is Mark.WARN and "did not answer within 2 s" in checks["openclaw"].detail


def test_data_directory_states(tmp_path: Path) -> None:
    assert check_data_dir(tmp_path).mark is Mark.OK
    missing = check_data_dir(tmp_path / "new")
    assert missing.mark is Mark.WARN and "does not exist yet" in missing.detail
    (tmp_path / "file").write_text("")
    assert check_data_dir(tmp_path / "file").mark is Mark.FAIL


def test_server_link_and_health_never_show_the_token(tmp_path: Path, health_server: str) -> None:
    home = tmp_path / "home"
    assert check_server_link(home)[0].mark is Mark.WARN  # not paired
    link(home, health_server)
    paired, health = check_server_link(home)
    assert paired.mark is Mark.OK and health_server in paired.detail and "token present" in paired.detail
    assert health.mark is Mark.OK and f"{health_server}/api/health answers" == health.detail
    assert TOKEN not in repr((paired, health))


def test_a_server_that_does_not_answer_is_a_warning_within_the_budget(tmp_path: Path, health_server: str) -> None:
    home = tmp_path / "home"
    port = int(health_server.rsplit(":", 1)[1])
    link(home, f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}")
    started = time.monotonic()
    _, health = check_server_link(home)
    assert time.monotonic() - started < 3
    assert health.mark is Mark.WARN and "did not answer" in health.detail and "imcodes up" in health.hint


def test_the_doctor_command_human_and_json(
    tmp_path: Path, agent_dir: Path, health_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = make_plugin_host(PluginSettings())
    monkeypatch.delenv("IMCODES_CLAUDE_BINARY", raising=False)
    tested = host.agent_driver("claude").tested_versions[-1]  # an untested version would be a warning
    write_program(agent_dir / "bin", "claude", f"echo {tested}")
    home = tmp_path / "home"
    link(home, health_server)
    monkeypatch.setenv("IMCODES_HOME", str(home))
    cli = make_cli(host)
    runner = CliRunner()
    human = runner.invoke(cli, ["doctor"])
    tmux_ok = shutil.which("tmux") is not None
    assert human.exit_code == (0 if tmux_ok else 1), human.output
    assert "[ok  ] claude" in human.output and "[warn] codex" in human.output
    assert "[ok  ] plugins" in human.output and "[ok  ] server health" in human.output
    assert "next steps:" in human.output and "npm install -g @openai/codex" in human.output
    assert TOKEN not in human.output
    as_json = runner.invoke(cli, ["doctor", "--json"])
    report = json.loads(as_json.output)
    assert report["ok"] is tmux_ok
    marks = {c["name"]: c["mark"] for c in report["checks"]}
    assert marks["claude"] == "ok" and marks["data directory"] == "ok" and marks["server link"] == "ok"
    assert {"section", "name", "mark", "detail", "hint"} == set(report["checks"][0])


def test_without_tmux_doctor_fails_and_says_how_to_fix_it(
    tmp_path: Path, agent_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("IMCODES_HOME", str(tmp_path))
    result = CliRunner().invoke(make_cli(make_plugin_host(PluginSettings(), load_entry_points=False)), ["doctor"])
    assert result.exit_code == 1
    assert "[fail] tmux" in result.output and "apt-get install tmux" in result.output
