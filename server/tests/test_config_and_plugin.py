"""Config, the plugin hook and sessions' expiry."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from imcodes_server import auth
from imcodes_server.config import ServerConfig, load_secret_key, make_config
from imcodes_server.models import WebSession

from imcodes_core.host import make_plugin_host


def test_secret_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_secret_key(tmp_path / "data")
    assert len(first) >= 40
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert load_secret_key(tmp_path / "data") == first


def test_config_defaults_and_origins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("IMCODES_PUBLIC_ORIGIN", raising=False)
    config = make_config(data_dir=tmp_path)
    assert (config.host, config.port, config.database_url) == ("127.0.0.1", 8787, None)
    assert config.origin == "http://127.0.0.1:8787" and not config.secure_cookies
    assert config.pgdata == tmp_path / "postgres"
    proxied = ServerConfig(public_origin="https://codes.example/", secret_key="x")
    assert proxied.origin == "https://codes.example" and proxied.secure_cookies
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    assert make_config(data_dir=tmp_path).database_url == "postgresql://u@h/db"


def test_commands_are_contributed_through_the_plugin_hook() -> None:
    host = make_plugin_host()
    names = {spec.name for spec in host.cli_commands()}
    assert {"up", "server", "login-link"} <= names


@pytest.mark.postgres
async def test_expired_web_sessions_are_refused(sign_in) -> None:
    me = await sign_in()
    assert (await me.client.get("/api/me")).status_code == 200
    await WebSession.filter(user_id=me.user.id).update(expires_at=auth.now() - timedelta(seconds=1))
    assert (await me.client.get("/api/me")).status_code == 401


@pytest.mark.postgres
def test_up_on_a_taken_port_says_so_without_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "imcodes_server",
                "up",
                "--no-daemon",
                "--port",
                str(port),
                "--home",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "server" / "postgres" / "postmaster.pid").exists()
