"""Server settings: one frozen record built from arguments and environment, never module globals."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def imcodes_home() -> Path:
    return Path(os.environ.get("IMCODES_HOME") or Path.home() / ".imcodes").expanduser()


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8787
    data_dir: Path = field(default_factory=lambda: imcodes_home() / "server")
    # None: the embedded PostgreSQL in data_dir/postgres; otherwise an external server (needs pgvector).
    database_url: str | None = None
    # The exact origin browsers use (scheme://host[:port]); behind a TLS proxy set it to the https origin.
    public_origin: str | None = None
    secret_key: str = ""
    log_level: str = "INFO"

    @property
    def origin(self) -> str:
        if self.public_origin:
            return self.public_origin.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def secure_cookies(self) -> bool:
        return self.origin.startswith("https://")

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"


def load_secret_key(data_dir: Path) -> str:
    """The server's secret, generated once into data_dir/secret_key with mode 0600."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / "secret_key"
    try:
        return path.read_text("utf-8").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def make_config(
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    data_dir: Path | None = None,
    database_url: str | None = None,
    public_origin: str | None = None,
    log_level: str | None = None,
) -> ServerConfig:
    """Config from explicit arguments, falling back to DATABASE_URL / IMCODES_PUBLIC_ORIGIN / IMCODES_LOG_LEVEL."""
    data = data_dir or imcodes_home() / "server"
    return ServerConfig(
        host=host,
        port=port,
        data_dir=data,
        database_url=database_url or os.environ.get("DATABASE_URL") or None,
        public_origin=public_origin or os.environ.get("IMCODES_PUBLIC_ORIGIN") or None,
        secret_key=load_secret_key(data),
        log_level=(log_level or os.environ.get("IMCODES_LOG_LEVEL") or "INFO").upper(),
    )
